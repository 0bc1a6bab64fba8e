/*
 * fbhost: drives a Fluent Bit Go output plugin (.so) the way Fluent Bit
 * 5.x's Go proxy does, so that the plugin can be tested without Fluent
 * Bit. See reference/fluent-bit-go-abi.md:
 *
 *   - dlopen(RTLD_LAZY); FLBPluginPreRegister(0) if present; a zeroed
 *     flb_plugin_proxy_def passed to FLBPluginRegister, which must set
 *     type 2 (output) and proxy 11 (golang);
 *   - one flbgo_output_plugin struct shared by all instances; before
 *     each instance's FLBPluginInit the proxy sets its o_ins and a fresh
 *     flb_plugin_proxy_context, whose remote_context the plugin fills;
 *   - flb_api with output_get_property (case-insensitive, exact length,
 *     first match), log_print and output_log_check (ins->log_level >= level);
 *   - FLBPluginFlushCtx(remote_ctx, data, size, tag) from N worker
 *     threads (Workers N), or from the thread that ran Init (Workers 0),
 *     with tag copied into a temporary buffer freed after the call;
 *   - FLB_RETRY (2) retried with backoff, as the engine does;
 *   - FLBPluginExitCtx(remote_ctx) per instance (FLBPluginExit if absent);
 *   - a hot reload (-X): after every instance's exit, the same loaded
 *     library gets FLBPluginPreRegister(1), FLBPluginRegister and an
 *     FLBPluginInit per instance again, in the same process.
 *
 * Chunks are built from a log file: one record {"log": line} per line,
 * in the v2 form [[EventTime, metadata], body] (or v1 [time, body]), or
 * read raw from a file.
 *
 * Routing, as the engine does it: an instance's Match (-M, or Match in
 * the config) is a pattern with '*' wildcards. When some instance has
 * one, each chunk goes to every instance whose Match matches its tag;
 * otherwise chunks go round-robin to the instances.
 *
 * -F path runs a forward input on a unix socket, as in_forward does for
 * the plugin's re-emitted records: each PackedForward (or Forward mode)
 * message is taken as it is, under its own tag, written to the -O file
 * (the records that went downstream: msgpack [tag, bin events] per
 * message), routed as a new chunk to the instances whose Match matches
 * the tag, and only then acknowledged, so that a flush that waits for
 * its ack has its records queued when it returns. No shared_key
 * handshake. -Y n stops routing after n messages (a loop guard for the
 * host itself); the summary then says so.
 *
 * Faults, as Fluent Bit shows them to the plugin:
 *
 * -P at_ms:for_ms pauses the forward input at_ms after the flushes start,
 *   for for_ms, as in_forward pauses under mem_buf_limit or at a stop
 *   (plugins/in_forward/fw.c): its connections are closed, unread
 *   messages with them, and nothing is accepted or acknowledged until it
 *   resumes (a client can still connect into the listen backlog and
 *   write, and then waits for an ack that does not come).
 * -K stop_ms stops the host stop_ms after the flushes start, as SIGTERM
 *   stops Fluent Bit (flb_engine.c, FLB_ENGINE_STOP/SHUTDOWN): every
 *   input pauses (the forward input for good); chunks keep being flushed
 *   and retried every second for the grace period (-G seconds, default
 *   5, Fluent Bit's Grace). The engine hands every pending chunk to the
 *   output workers each second, and a worker drains its queue before it
 *   stops (flb_output_thread.c), so when the grace ends each chunk still
 *   pending is flushed once more, one after the other on a worker, and
 *   then stays where it is (in storage, sent at the next start). Then
 *   the exit callbacks run. It prints
 *     fbhost: shutdown seconds=S grace=G kept_chunks=K kept_records=R
 *   where S runs from the stop to the end of the exit callbacks, and the
 *   summary line ends with kept=K; the exit status is then 0 when every
 *   chunk ended FLB_OK or was kept.
 *
 * Usage:
 *   fbhost -s plugin.so [-N name] [-c config] [-p key=value]... [-i -p ...]
 *          [-M match]... [-f logfile | -r rawchunk]... [-n records_per_chunk]
 *          [-x repeat] [-w workers] [-k message_key] [-m key=value (metadata)]
 *          [-T tag] [-1 (v1 events)] [-R retry_limit] [-B backoff_ms]
 *          [-L log_level] [-q] [-S (print RSS every second)]
 *          [-H (hold before exit)] [-X reloads]
 *          [-F socket_path [-O downstream_file] [-Y max_routed] [-P at_ms:for_ms]]
 *          [-K stop_ms [-G grace_s]]
 *
 * -H: after the flushes of each round, before the exit calls, print
 *   "fbhost: holding round=N" and wait for a line or EOF on stdin, so
 *   that a test can look at the running plugin (its metrics endpoint).
 * -X N: N hot reloads: each round flushes every chunk, then exits every
 *   instance, then (but after the last) registers and inits them again.
 *
 * The config file is Fluent Bit's classic format; each [OUTPUT] section
 * whose Name is the plugin's (-N, default sshenrich) is an instance.
 * Workers and Retry_Limit there set -w and -R; reserved keys (match,
 * alias, workers, retry_limit, host, port, tls*, ...) are not passed to
 * the plugin, and ${NAME} in values is replaced from the environment,
 * as in Fluent Bit. A -p after -c overrides the key of the last instance.
 *
 * The summary on stderr ends with one line:
 *   fbhost: chunks=C records=R ok=O retry=T error=E dropped=D
 * (chunks and records count every flush, routed ones included), after
 *   fbhost: forward_in messages=M records=N routed=K stopped=0|1
 * with -F; the exit status is 0 only when every chunk ended FLB_OK.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* ABI structs, field order as in Fluent Bit 5.x. */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};

struct flb_plugin_proxy_context {
    void *remote_context;
    void *proxy;
};

struct flb_output_instance; /* opaque to the plugin */

struct flb_api {
    const char *(*output_get_property)(const char *, struct flb_output_instance *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(struct flb_output_instance *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(struct flb_output_instance *, int);
    const char *(*custom_get_property)(const char *, void *);
    int (*custom_log_check)(void *, int);
};

struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
    /* Fluent Bit keeps its own callback pointers after these. */
    void *cb_init, *cb_flush, *cb_flush_ctx, *cb_exit, *cb_exit_ctx;
};

/* The host's instance: what Fluent Bit keeps in flb_output_instance. */
#define MAX_PROPS 64
#define MAX_INSTANCES 16
struct flb_output_instance {
    char *keys[MAX_PROPS];
    char *values[MAX_PROPS];
    int nprops;
    int log_level;
    char *match; /* Match: kept by the engine, never passed to the plugin */
    struct flb_plugin_proxy_context *ctx;
};

static struct flb_output_instance instances[MAX_INSTANCES];
static int ninstances;

static const char *reserved[] = {
    "name", "match", "match_regex", "alias", "log_level", "log_suppress_interval", "host", "port",
    "ipv6", "retry_limit", "workers", "tls", "tls.verify", "tls.verify_hostname", "tls.debug",
    "tls.vhost", "tls.ca_path", "tls.ca_file", "tls.crt_file", "tls.key_file", "tls.key_passwd",
    "tls.min_version", "tls.max_version", "tls.ciphers", "storage.total_limit_size", NULL};

static int is_reserved(const char *k)
{
    for (int i = 0; reserved[i]; i++) {
        if (strcasecmp(k, reserved[i]) == 0) {
            return 1;
        }
    }
    return strncasecmp(k, "net.", 4) == 0 || strncasecmp(k, "tls.proxy", 9) == 0 ||
           strncasecmp(k, "oauth2", 6) == 0 || strncasecmp(k, "_debug.http", 11) == 0;
}

/* Options. */
static int workers = 1;
static int retry_limit = -1; /* -1: no_limits */
static int backoff_ms = 200;
static int records_per_chunk = 100;
static int repeat = 1;
static int v1_events;
static int quiet;
static int hold;
static int reloads;
static const char *message_key = "log";
static const char *plugin_name = "sshenrich";
static const char *tag = "ssh.raw";
static char *meta_keys[16], *meta_values[16];
static int nmeta;

/* Statistics. */
static pthread_mutex_t stats_mu = PTHREAD_MUTEX_INITIALIZER;
static long stat_ok, stat_retry, stat_error, stat_dropped, stat_records, stat_chunks;
static long stat_kept, stat_kept_records;

/* The stop (-K) and the grace period (-G). */
static long stop_after_ms = -1;
static int grace_s = 5;
static volatile int stopping;
static double stop_at, grace_end; /* monotonic seconds */
static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int grace_over(void) { return stopping && now_s() >= grace_end; }

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fbhost: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* flb_api */

static const char *api_output_get_property(const char *key, struct flb_output_instance *ins)
{
    size_t n = strlen(key);
    for (int i = 0; i < ins->nprops; i++) {
        if (strlen(ins->keys[i]) == n && strncasecmp(ins->keys[i], key, n) == 0) {
            return ins->values[i]; /* Fluent Bit stores an empty value as NULL */
        }
    }
    return NULL;
}

static const char *level_names[] = {"", "error", "warn", "info", "debug", "trace"};

static void api_log_print(int level, const char *file, int line, const char *fmt, ...)
{
    (void) file;
    (void) line;
    char ts[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y/%m/%d %H:%M:%S", &tm);
    flockfile(stderr);
    fprintf(stderr, "[%s] [%5s] ", ts, level >= 1 && level <= 5 ? level_names[level] : "?");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

static int api_output_log_check(struct flb_output_instance *ins, int level)
{
    return ins->log_level >= level;
}

static struct flb_api api = {
    .output_get_property = api_output_get_property,
    .log_print = api_log_print,
    .output_log_check = api_output_log_check,
};

/* Plugin symbols. */
static int (*pre_register)(int);
static int (*plugin_register)(struct flb_plugin_proxy_def *);
static int (*plugin_init)(struct flbgo_output_plugin *);
static int (*plugin_flush_ctx)(void *, const void *, size_t, char *);
static int (*plugin_flush)(const void *, size_t, const char *);
static int (*plugin_exit_ctx)(void *);
static int (*plugin_exit)(void);
/* Only in the plugin's sshenrich_testhooks build: the live Go heap. */
static long (*heap_live_kb)(void);

/* msgpack writing. */

struct buf {
    unsigned char *data;
    size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 1024;
        b->data = realloc(b->data, b->cap);
        if (!b->data) {
            die("out of memory");
        }
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u8(struct buf *b, unsigned v) { unsigned char c = v; put(b, &c, 1); }

static void put_be32(struct buf *b, uint32_t v)
{
    unsigned char x[4] = {v >> 24, v >> 16, v >> 8, v};
    put(b, x, 4);
}

static void put_str(struct buf *b, const char *s, size_t n)
{
    if (n < 32) {
        put_u8(b, 0xa0 | n);
    } else if (n < 256) {
        put_u8(b, 0xd9);
        put_u8(b, n);
    } else if (n < 65536) {
        put_u8(b, 0xda);
        put_u8(b, n >> 8);
        put_u8(b, n);
    } else {
        put_u8(b, 0xdb);
        put_be32(b, n);
    }
    put(b, s, n);
}

static void put_event(struct buf *b, uint32_t sec, uint32_t nsec, const char *line, size_t n)
{
    put_u8(b, 0x92);
    if (!v1_events) {
        put_u8(b, 0x92);
    }
    put_u8(b, 0xd7); /* EventTime: fixext8, type 0 */
    put_u8(b, 0x00);
    put_be32(b, sec);
    put_be32(b, nsec);
    if (!v1_events) {
        put_u8(b, 0x80 | nmeta);
        for (int i = 0; i < nmeta; i++) {
            put_str(b, meta_keys[i], strlen(meta_keys[i]));
            put_str(b, meta_values[i], strlen(meta_values[i]));
        }
    }
    put_u8(b, 0x81);
    put_str(b, message_key, strlen(message_key));
    put_str(b, line, n);
}

/* Chunks to flush. */
struct chunk {
    unsigned char *data;
    size_t len;
    int records;
    int instance;
    const char *tag;
    long id;
};

static struct chunk *chunks;
static int nchunks, capchunks;
static long next_chunk;
static pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queue_cv = PTHREAD_COND_INITIALIZER;

/* Chunks the forward input routed, flushed after the loaded ones; and
 * the flushes under way, so that workers wait while one may still
 * route more. Under queue_mu. */
static struct chunk *routed;
static long nrouted, caprouted, next_routed;
static int inflight;

static void add_chunk(struct buf *b, int records)
{
    if (nchunks == capchunks) {
        capchunks = capchunks * 2 + 16;
        chunks = realloc(chunks, capchunks * sizeof(*chunks));
    }
    chunks[nchunks].data = b->data;
    chunks[nchunks].len = b->len;
    chunks[nchunks].records = records;
    chunks[nchunks].instance = nchunks % (ninstances ? ninstances : 1);
    chunks[nchunks].tag = tag;
    chunks[nchunks].id = nchunks;
    nchunks++;
    b->data = NULL;
    b->len = b->cap = 0;
}

/* match reports whether tag matches pattern, whose '*' matches any run
 * of characters, as Fluent Bit's router does. */
static int match(const char *pattern, const char *t)
{
    while (*pattern) {
        if (*pattern == '*') {
            while (*pattern == '*') {
                pattern++;
            }
            if (!*pattern) {
                return 1;
            }
            for (; *t; t++) {
                if (match(pattern, t)) {
                    return 1;
                }
            }
            return 0;
        }
        if (*t != *pattern) {
            return 0;
        }
        pattern++;
        t++;
    }
    return *t == 0;
}

static int any_match(void)
{
    for (int i = 0; i < ninstances; i++) {
        if (instances[i].match) {
            return 1;
        }
    }
    return 0;
}

/* route_loaded gives each loaded chunk to every instance whose Match
 * matches its tag, instead of round-robin, when Match is in use. */
static void route_loaded(void)
{
    if (!any_match()) {
        return;
    }
    struct chunk *all = NULL;
    int n = 0;
    for (int i = 0; i < nchunks; i++) {
        for (int j = 0; j < ninstances; j++) {
            if (instances[j].match && match(instances[j].match, chunks[i].tag)) {
                all = realloc(all, (n + 1) * sizeof(*all));
                all[n] = chunks[i];
                all[n].instance = j;
                all[n].id = n;
                n++;
            }
        }
    }
    free(chunks);
    chunks = all;
    nchunks = capchunks = n;
}

static uint32_t base_sec = 1718523450; /* 2024-06-16T07:37:30Z */

static void load_log(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    char **lines = NULL;
    size_t *lens = NULL;
    int nlines = 0, caplines = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            n--;
        }
        if (nlines == caplines) {
            caplines = caplines * 2 + 64;
            lines = realloc(lines, caplines * sizeof(*lines));
            lens = realloc(lens, caplines * sizeof(*lens));
        }
        lines[nlines] = malloc(n + 1);
        memcpy(lines[nlines], line, n);
        lens[nlines++] = n;
    }
    free(line);
    fclose(f);
    struct buf b = {0};
    int in_chunk = 0;
    long seq = 0;
    for (int i = 0; i < nlines; i++, seq++) {
        put_event(&b, base_sec + (uint32_t) (seq / 1000), (uint32_t) ((seq % 1000) * 1000000 + 123), lines[i], lens[i]);
        if (++in_chunk == records_per_chunk) {
            add_chunk(&b, in_chunk);
            in_chunk = 0;
        }
    }
    if (in_chunk > 0) {
        add_chunk(&b, in_chunk);
    }
    for (int i = 0; i < nlines; i++) {
        free(lines[i]);
    }
    free(lines);
    free(lens);
}

static void load_raw(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    struct buf b = {0};
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0) {
        put(&b, tmp, n);
    }
    fclose(f);
    if (b.len == 0) {
        put(&b, "", 0);
    }
    add_chunk(&b, -1);
}

/* Flushing. */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* retry_wait waits before a retry: the backoff, cut short by a stop,
 * after which the engine retries every second until the grace ends.
 * A wait the grace's end cuts short is the retry already queued on the
 * worker, which still runs once. */
static void retry_wait(long wait)
{
    double until = now_s() + wait / 1e3;
    pthread_mutex_lock(&stop_mu);
    for (;;) {
        double t = now_s();
        if (stopping) {
            double retry_at = stop_at + 1 + (long) (t - stop_at); /* the next whole second */
            if (until > retry_at) {
                until = retry_at;
            }
        }
        if (t >= until || (stopping && t >= grace_end)) {
            break;
        }
        double d = until - t;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t) d;
        ts.tv_nsec += (long) ((d - (long) d) * 1e9);
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&stop_cv, &stop_mu, &ts);
    }
    pthread_mutex_unlock(&stop_mu);
}

static int flush_one(struct chunk *c)
{
    struct flb_output_instance *ins = &instances[c->instance];
    int attempt = 0;
    long wait = backoff_ms;
    for (;;) {
        /* The proxy copies the tag into a temporary buffer per call. */
        char *t = strdup(c->tag);
        int ret;
        if (plugin_flush_ctx) {
            ret = plugin_flush_ctx(ins->ctx->remote_context, c->data, c->len, t);
        } else {
            ret = plugin_flush(c->data, c->len, t);
        }
        memset(t, 'X', strlen(t)); /* the plugin must not keep it */
        free(t);
        if (ret != FLB_OK && ret != FLB_ERROR && ret != FLB_RETRY) {
            ret = FLB_ERROR; /* as proxy_cb_flush normalises */
        }
        if (!quiet) {
            fprintf(stderr, "fbhost: flush chunk=%ld instance=%d attempt=%d bytes=%zu ret=%d\n",
                    c->id, c->instance, attempt, c->len, ret);
        }
        pthread_mutex_lock(&stats_mu);
        if (ret == FLB_OK) {
            stat_ok++;
            stat_records += c->records > 0 ? c->records : 0;
        } else if (ret == FLB_RETRY) {
            stat_retry++;
        } else {
            stat_error++;
        }
        pthread_mutex_unlock(&stats_mu);
        if (ret != FLB_RETRY) {
            return ret;
        }
        if (grace_over()) {
            /* Its last call came after the grace: shut down with the
             * chunk undelivered, it stays in storage. */
            pthread_mutex_lock(&stats_mu);
            stat_kept++;
            stat_kept_records += c->records > 0 ? c->records : 0;
            pthread_mutex_unlock(&stats_mu);
            return ret;
        }
        if (retry_limit >= 0 && attempt >= retry_limit) {
            pthread_mutex_lock(&stats_mu);
            stat_dropped++;
            pthread_mutex_unlock(&stats_mu);
            return ret;
        }
        attempt++;
        retry_wait(wait);
        wait = wait * 2 > 5000 ? 5000 : wait * 2;
    }
}

/* Chunks are flushed repeat times over (-x), without copies, then the
 * routed ones. A worker ends when nothing is queued and no flush is
 * under way that could route more. */
static void *worker_main(void *arg)
{
    (void) arg;
    for (;;) {
        struct chunk c;
        pthread_mutex_lock(&queue_mu);
        for (;;) {
            if (next_chunk < (long) nchunks * repeat) {
                c = chunks[next_chunk++ % nchunks];
                break;
            }
            if (next_routed < nrouted) {
                c = routed[next_routed++];
                break;
            }
            if (inflight == 0) {
                pthread_cond_broadcast(&queue_cv);
                pthread_mutex_unlock(&queue_mu);
                return NULL;
            }
            pthread_cond_wait(&queue_cv, &queue_mu);
        }
        inflight++;
        pthread_mutex_unlock(&queue_mu);
        flush_one(&c);
        pthread_mutex_lock(&queue_mu);
        inflight--;
        pthread_cond_broadcast(&queue_cv);
        pthread_mutex_unlock(&queue_mu);
    }
}

/* The forward input (-F). */

static const char *fwd_path, *fwd_out_path;
static FILE *fwd_out;
static long fwd_max_routed = -1;
static long fwd_messages, fwd_records, fwd_routed;
static int fwd_stopped, fwd_listener = -1;
static pthread_mutex_t fwd_mu = PTHREAD_MUTEX_INITIALIZER;

/* Pausing (-P, and the stop): under fwd_mu. */
static int fwd_paused;
static pthread_cond_t fwd_cv = PTHREAD_COND_INITIALIZER;
#define MAX_FWD_CONNS 256
static int fwd_conns[MAX_FWD_CONNS], nfwd_conns;
static long fwd_pause_at = -1, fwd_pause_for;

/* fwd_pause closes every connection (their unread messages are lost to
 * the server, never acknowledged) and stops accepting, as in_forward's
 * pause callback does. */
static void fwd_pause(void)
{
    pthread_mutex_lock(&fwd_mu);
    fwd_paused = 1;
    for (int i = 0; i < nfwd_conns; i++) {
        shutdown(fwd_conns[i], SHUT_RDWR);
    }
    pthread_mutex_unlock(&fwd_mu);
}

static void fwd_resume(void)
{
    pthread_mutex_lock(&fwd_mu);
    fwd_paused = 0;
    pthread_cond_broadcast(&fwd_cv);
    pthread_mutex_unlock(&fwd_mu);
}

/* mp_skip returns the offset past the msgpack value at b[i], -1 when b
 * ends inside it, -2 when it is not msgpack. */
static long mp_skip(const unsigned char *b, size_t len, size_t i, int depth)
{
    if (depth > 100) {
        return -2;
    }
    if (i >= len) {
        return -1;
    }
    unsigned c = b[i];
    size_t n = 0, head = 1, count = 0;
    int container = 0;
#define NEED(k) do { if (i + (k) > len) return -1; } while (0)
#define BE(off, size) ((size) == 1 ? (size_t) b[i + (off)] : (size) == 2 ? ((size_t) b[i + (off)] << 8 | b[i + (off) + 1]) : \
                      ((size_t) b[i + (off)] << 24 | (size_t) b[i + (off) + 1] << 16 | (size_t) b[i + (off) + 2] << 8 | b[i + (off) + 3]))
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
        return (long) i + 1;
    } else if (c >= 0x80 && c <= 0x8f) {
        count = 2 * (c & 0x0f), container = 1;
    } else if (c >= 0x90 && c <= 0x9f) {
        count = c & 0x0f, container = 1;
    } else if (c >= 0xa0 && c <= 0xbf) {
        n = c & 0x1f;
    } else {
        switch (c) {
        case 0xcc: case 0xd0: n = 1; break;
        case 0xcd: case 0xd1: case 0xd4: n = 2; break;
        case 0xd5: n = 3; break;
        case 0xce: case 0xd2: case 0xca: n = 4; break;
        case 0xd6: n = 5; break;
        case 0xcf: case 0xd3: case 0xcb: n = 8; break;
        case 0xd7: n = 9; break;
        case 0xd8: n = 17; break;
        case 0xc4: case 0xd9: NEED(2); n = BE(1, 1); head = 2; break;
        case 0xc5: case 0xda: NEED(3); n = BE(1, 2); head = 3; break;
        case 0xc6: case 0xdb: NEED(5); n = BE(1, 4); head = 5; break;
        case 0xc7: NEED(2); n = BE(1, 1) + 1; head = 2; break;
        case 0xc8: NEED(3); n = BE(1, 2) + 1; head = 3; break;
        case 0xc9: NEED(5); n = BE(1, 4) + 1; head = 5; break;
        case 0xdc: NEED(3); count = BE(1, 2); head = 3; container = 1; break;
        case 0xdd: NEED(5); count = BE(1, 4); head = 5; container = 1; break;
        case 0xde: NEED(3); count = 2 * BE(1, 2); head = 3; container = 1; break;
        case 0xdf: NEED(5); count = 2 * BE(1, 4); head = 5; container = 1; break;
        default: return -2;
        }
    }
#undef NEED
#undef BE
    if (!container) {
        return i + head + n > len ? -1 : (long) (i + head + n);
    }
    size_t j = i + head;
    for (size_t k = 0; k < count; k++) {
        long e = mp_skip(b, len, j, depth + 1);
        if (e < 0) {
            return e;
        }
        j = (size_t) e;
    }
    return (long) j;
}

/* mp_str reads a str or bin at b[i] (whose end is known). */
static int mp_str(const unsigned char *b, size_t i, const unsigned char **s, size_t *n)
{
    unsigned c = b[i];
    if (c >= 0xa0 && c <= 0xbf) {
        *n = c & 0x1f, *s = b + i + 1;
    } else if (c == 0xd9 || c == 0xc4) {
        *n = b[i + 1], *s = b + i + 2;
    } else if (c == 0xda || c == 0xc5) {
        *n = (size_t) b[i + 1] << 8 | b[i + 2], *s = b + i + 3;
    } else if (c == 0xdb || c == 0xc6) {
        *n = (size_t) b[i + 1] << 24 | (size_t) b[i + 2] << 16 | (size_t) b[i + 3] << 8 | b[i + 4], *s = b + i + 5;
    } else {
        return 0;
    }
    return 1;
}

/* fwd_message takes one whole Forward message: [tag, entries, options?].
 * It returns 0, -1 for a message in_forward would refuse, or -2 when
 * the ack cannot be written (the client is gone). */
static int fwd_message(int fd, const unsigned char *m, size_t len)
{
    unsigned c = m[0];
    size_t count, i;
    if (c >= 0x90 && c <= 0x9f) {
        count = c & 0x0f, i = 1;
    } else if (c == 0xdc) {
        count = (size_t) m[1] << 8 | m[2], i = 3;
    } else {
        return -1;
    }
    if (count < 2) {
        return -1;
    }
    const unsigned char *t;
    size_t tlen;
    long e = mp_skip(m, len, i, 1);
    if (e < 0 || !mp_str(m, i, &t, &tlen)) {
        return -1;
    }
    i = (size_t) e;
    struct buf events = {0};
    e = mp_skip(m, len, i, 1);
    if (e < 0) {
        return -1;
    }
    const unsigned char *p;
    size_t plen;
    if (mp_str(m, i, &p, &plen)) {
        put(&events, p, plen); /* PackedForward: the events as they are */
    } else if ((m[i] >= 0x90 && m[i] <= 0x9f) || m[i] == 0xdc || m[i] == 0xdd) {
        size_t n = m[i] <= 0x9f ? (size_t) (m[i] & 0x0f) : m[i] == 0xdc ? ((size_t) m[i + 1] << 8 | m[i + 2]) :
                   ((size_t) m[i + 1] << 24 | (size_t) m[i + 2] << 16 | (size_t) m[i + 3] << 8 | m[i + 4]);
        size_t j = i + (m[i] <= 0x9f ? 1 : m[i] == 0xdc ? 3 : 5);
        for (size_t k = 0; k < n; k++) { /* Forward mode: one entry per event */
            long f = mp_skip(m, len, j, 2);
            put(&events, m + j, (size_t) f - j);
            j = (size_t) f;
        }
    } else {
        return -1; /* message mode is not used by the plugin */
    }
    i = (size_t) e;
    const unsigned char *ack = NULL;
    size_t acklen = 0;
    if (count > 2 && (m[i] & 0xf0) == 0x80) {
        size_t pairs = m[i] & 0x0f, j = i + 1;
        for (size_t k = 0; k < pairs; k++) {
            long ke = mp_skip(m, len, j, 2), ve = ke < 0 ? -1 : mp_skip(m, len, (size_t) ke, 2);
            const unsigned char *ks;
            size_t kn;
            if (ve < 0) {
                return -1;
            }
            if (mp_str(m, j, &ks, &kn) && kn == 5 && memcmp(ks, "chunk", 5) == 0) {
                ack = m + ke, acklen = (size_t) (ve - ke);
            }
            j = (size_t) ve;
        }
    }
    int records = 0;
    for (size_t j = 0; j < events.len;) {
        long f = mp_skip(events.data, events.len, j, 0);
        if (f < 0) {
            free(events.data);
            return -1;
        }
        j = (size_t) f;
        records++;
    }
    char *tagz = malloc(tlen + 1);
    memcpy(tagz, t, tlen);
    tagz[tlen] = 0;

    pthread_mutex_lock(&fwd_mu);
    fwd_messages++;
    fwd_records += records;
    if (fwd_out) {
        struct buf rec = {0};
        put_u8(&rec, 0x92);
        put_str(&rec, tagz, tlen);
        put_u8(&rec, 0xc6);
        put_be32(&rec, (uint32_t) events.len);
        put(&rec, events.data, events.len);
        fwrite(rec.data, 1, rec.len, fwd_out);
        fflush(fwd_out);
        free(rec.data);
    }
    int route = fwd_max_routed < 0 || fwd_routed < fwd_max_routed;
    if (!route) {
        fwd_stopped = 1;
    } else {
        fwd_routed++;
    }
    pthread_mutex_unlock(&fwd_mu);

    int used = 0;
    if (route) {
        pthread_mutex_lock(&queue_mu);
        for (int k = 0; k < ninstances; k++) {
            if (!instances[k].match || !match(instances[k].match, tagz)) {
                continue;
            }
            if (nrouted == caprouted) {
                caprouted = caprouted * 2 + 16;
                routed = realloc(routed, caprouted * sizeof(*routed));
            }
            struct chunk *rc = &routed[nrouted];
            rc->data = malloc(events.len ? events.len : 1);
            memcpy(rc->data, events.data, events.len);
            rc->len = events.len;
            rc->records = records;
            rc->instance = k;
            rc->tag = tagz;
            rc->id = 1000000 + nrouted;
            nrouted++;
            stat_chunks++;
            used = 1;
        }
        pthread_cond_broadcast(&queue_cv);
        pthread_mutex_unlock(&queue_mu);
    }
    if (!used) {
        free(tagz);
    }
    free(events.data);
    /* The ack goes last: the records are queued before the flush that
     * sent them can return. */
    if (ack) {
        struct buf a = {0};
        put_u8(&a, 0x81);
        put_str(&a, "ack", 3);
        put(&a, ack, acklen);
        if (write(fd, a.data, a.len) != (ssize_t) a.len) {
            free(a.data);
            return -2; /* the client is gone: not a bad message */
        }
        free(a.data);
    }
    return 0;
}

static void fwd_untrack(int fd)
{
    pthread_mutex_lock(&fwd_mu);
    for (int i = 0; i < nfwd_conns; i++) {
        if (fwd_conns[i] == fd) {
            fwd_conns[i] = fwd_conns[--nfwd_conns];
            break;
        }
    }
    pthread_mutex_unlock(&fwd_mu);
}

static void *fwd_conn_main(void *arg)
{
    int fd = (int) (intptr_t) arg;
    struct buf in = {0};
    unsigned char tmp[65536];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof(tmp));
        if (n <= 0) {
            break;
        }
        put(&in, tmp, (size_t) n);
        size_t off = 0;
        for (;;) {
            long e = mp_skip(in.data + off, in.len - off, 0, 0);
            if (e == -1) {
                break;
            }
            int r = e == -2 ? -1 : fwd_message(fd, in.data + off, (size_t) e);
            if (r < 0) {
                if (r == -1) {
                    fprintf(stderr, "fbhost: forward_in: bad message, connection closed\n");
                }
                fwd_untrack(fd);
                close(fd);
                free(in.data);
                return NULL;
            }
            off += (size_t) e;
        }
        memmove(in.data, in.data + off, in.len - off);
        in.len -= off;
    }
    fwd_untrack(fd);
    close(fd);
    free(in.data);
    return NULL;
}

static void *fwd_accept_main(void *arg)
{
    (void) arg;
    for (;;) {
        pthread_mutex_lock(&fwd_mu);
        while (fwd_paused) {
            pthread_cond_wait(&fwd_cv, &fwd_mu); /* connections wait in the backlog */
        }
        pthread_mutex_unlock(&fwd_mu);
        int fd = accept(fwd_listener, NULL, NULL);
        if (fd < 0) {
            return NULL; /* the listener was shut down */
        }
        pthread_mutex_lock(&fwd_mu);
        if (fwd_paused || nfwd_conns == MAX_FWD_CONNS) {
            /* Paused while accepting: as if it had not been accepted. */
            pthread_mutex_unlock(&fwd_mu);
            close(fd);
            continue;
        }
        fwd_conns[nfwd_conns++] = fd;
        pthread_mutex_unlock(&fwd_mu);
        pthread_t th;
        pthread_create(&th, NULL, fwd_conn_main, (void *) (intptr_t) fd);
        pthread_detach(th);
    }
}

static void fwd_start(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(fwd_path) >= sizeof(sa.sun_path)) {
        die("-F %s: path too long", fwd_path);
    }
    strcpy(sa.sun_path, fwd_path);
    unlink(fwd_path);
    fwd_listener = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fwd_listener < 0 || bind(fwd_listener, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(fwd_listener, 64) < 0) {
        die("-F %s: %s", fwd_path, strerror(errno));
    }
    if (fwd_out_path && !(fwd_out = fopen(fwd_out_path, "wb"))) {
        die("-O %s: %s", fwd_out_path, strerror(errno));
    }
    pthread_t th;
    pthread_create(&th, NULL, fwd_accept_main, NULL);
    pthread_detach(th);
}

/* pause_main pauses the forward input for a while (-P). */
static void *pause_main(void *arg)
{
    (void) arg;
    sleep_ms(fwd_pause_at);
    fprintf(stderr, "fbhost: forward_in paused for %ld ms\n", fwd_pause_for);
    fwd_pause();
    sleep_ms(fwd_pause_for);
    if (!stopping) {
        fwd_resume();
        fprintf(stderr, "fbhost: forward_in resumed\n");
    }
    return NULL;
}

/* begin_stop stops the host as SIGTERM stops Fluent Bit. */
static void begin_stop(void)
{
    pthread_mutex_lock(&stop_mu);
    if (stopping) {
        pthread_mutex_unlock(&stop_mu);
        return;
    }
    stop_at = now_s();
    grace_end = stop_at + grace_s;
    stopping = 1;
    pthread_cond_broadcast(&stop_cv);
    pthread_mutex_unlock(&stop_mu);
    if (fwd_path) {
        fwd_pause(); /* flb_engine_stop_ingestion pauses every input */
    }
    pthread_mutex_lock(&queue_mu);
    long left = (long) nchunks * repeat - next_chunk + (nrouted - next_routed);
    pthread_cond_broadcast(&queue_cv);
    pthread_mutex_unlock(&queue_mu);
    fprintf(stderr, "fbhost: stop: grace %d s, %ld chunks not yet flushed, %d in flight\n", grace_s, left, inflight);
}

static void *stop_main(void *arg)
{
    (void) arg;
    sleep_ms(stop_after_ms);
    begin_stop();
    return NULL;
}

/* rss_main prints the resident set size every second (-S). */
static volatile int rss_running = 1;

static void *rss_main(void *arg)
{
    (void) arg;
    while (rss_running) {
        FILE *f = fopen("/proc/self/status", "r");
        char line[256];
        while (f && fgets(line, sizeof(line), f)) {
            if (strncmp(line, "VmRSS:", 6) == 0) {
                fprintf(stderr, "fbhost: rss_kb=%ld\n", atol(line + 6));
            }
        }
        if (f) {
            fclose(f);
        }
        sleep_ms(1000);
    }
    return NULL;
}

/* Configuration. */

static struct flb_output_instance *new_instance(void)
{
    if (ninstances == MAX_INSTANCES) {
        die("too many instances");
    }
    struct flb_output_instance *ins = &instances[ninstances++];
    memset(ins, 0, sizeof(*ins));
    ins->log_level = 3; /* info */
    return ins;
}

static char *trim(char *s)
{
    while (isspace((unsigned char) *s)) {
        s++;
    }
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char) e[-1])) {
        *--e = 0;
    }
    return s;
}

/* expand_env replaces ${NAME} with the environment's value, as Fluent
 * Bit does for property values. */
static char *expand_env(const char *value)
{
    struct buf b = {0};
    for (const char *p = value; *p;) {
        const char *end;
        if (p[0] == '$' && p[1] == '{' && (end = strchr(p + 2, '}'))) {
            char name[256];
            size_t n = (size_t) (end - p - 2);
            if (n > sizeof(name) - 1) {
                n = sizeof(name) - 1;
            }
            memcpy(name, p + 2, n);
            name[n] = 0;
            const char *env = getenv(name);
            if (env) {
                put(&b, env, strlen(env));
            }
            p = end + 1;
            continue;
        }
        put(&b, p, 1);
        p++;
    }
    put(&b, "", 1);
    return (char *) b.data;
}

static void set_property(struct flb_output_instance *ins, const char *key, const char *value)
{
    if (strcasecmp(key, "match") == 0) {
        free(ins->match);
        ins->match = strdup(value);
        return;
    }
    if (strcasecmp(key, "workers") == 0) {
        workers = atoi(value);
        return;
    }
    if (strcasecmp(key, "retry_limit") == 0) {
        retry_limit = (strcasecmp(value, "no_limits") == 0 || strcasecmp(value, "false") == 0 ||
                       strcasecmp(value, "off") == 0) ? -1 :
                      strcasecmp(value, "no_retries") == 0 ? 0 : atoi(value);
        return;
    }
    if (strcasecmp(key, "log_level") == 0) {
        const char *names[] = {"off", "error", "warn", "info", "debug", "trace"};
        for (int i = 0; i < 6; i++) {
            if (strcasecmp(value, names[i]) == 0) {
                ins->log_level = i;
            }
        }
        return;
    }
    if (is_reserved(key)) {
        return;
    }
    char *v = expand_env(value);
    /* A later -p replaces the key (Fluent Bit would return the first). */
    for (int i = 0; i < ins->nprops; i++) {
        if (strcasecmp(ins->keys[i], key) == 0) {
            free(ins->values[i]);
            ins->values[i] = *v ? v : NULL;
            return;
        }
    }
    if (ins->nprops == MAX_PROPS) {
        die("too many properties");
    }
    char *k = strdup(key);
    for (char *p = k; *p; p++) {
        *p = tolower((unsigned char) *p); /* classic keys are lower-cased */
    }
    ins->keys[ins->nprops] = k;
    ins->values[ins->nprops] = *v ? v : NULL;
    ins->nprops++;
}

/* load_config reads the [OUTPUT] sections of a classic Fluent Bit
 * config whose Name is the plugin's; other sections are Fluent Bit's. */
static void load_config(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        die("%s: %s", path, strerror(errno));
    }
    char line[4096];
    struct flb_output_instance *ins = NULL;
    int in_output = 0;
    /* A section's keys are kept until its Name is known. */
    char *keys[MAX_PROPS], *values[MAX_PROPS];
    int nkeys = 0, named = 0;
    for (;;) {
        char *got = fgets(line, sizeof(line), f);
        char *s = got ? trim(line) : "[";
        if (got && (*s == 0 || *s == '#')) {
            continue;
        }
        if (*s == '[') {
            if (in_output && named) {
                ins = new_instance();
                for (int i = 0; i < nkeys; i++) {
                    set_property(ins, keys[i], values[i]);
                }
            }
            for (int i = 0; i < nkeys; i++) {
                free(keys[i]);
                free(values[i]);
            }
            nkeys = named = 0;
            in_output = got && strncasecmp(s, "[OUTPUT]", 8) == 0;
            if (!got) {
                break;
            }
            continue;
        }
        if (!in_output) {
            continue;
        }
        char *sp = s;
        while (*sp && !isspace((unsigned char) *sp)) {
            sp++;
        }
        char *value = *sp ? trim(sp + 1) : "";
        *sp = 0;
        if (strcasecmp(s, "name") == 0) {
            named = strcmp(value, plugin_name) == 0;
            continue;
        }
        if (nkeys < MAX_PROPS) {
            keys[nkeys] = strdup(s);
            values[nkeys++] = strdup(value);
        }
    }
    fclose(f);
}

/* register_plugin registers the plugin as flb_plugin_proxy_create does
 * and returns the output plugin struct its instances share. */
static struct flbgo_output_plugin *register_plugin(int hot_reloading)
{
    if (pre_register && pre_register(hot_reloading) == -1) {
        die("FLBPluginPreRegister refused");
    }
    struct flb_plugin_proxy_def *def = calloc(1, sizeof(*def));
    if (plugin_register(def) == -1) {
        die("FLBPluginRegister failed");
    }
    if (def->type != FLB_PROXY_OUTPUT_PLUGIN || def->proxy != FLB_PROXY_GOLANG || !def->name) {
        die("registration: type=%d (want %d) proxy=%d (want %d) name=%s", def->type,
            FLB_PROXY_OUTPUT_PLUGIN, def->proxy, FLB_PROXY_GOLANG, def->name ? def->name : "(null)");
    }
    fprintf(stderr, "fbhost: registered output \"%s\": %s\n", def->name, def->description ? def->description : "");
    struct flbgo_output_plugin *plugin = calloc(1, sizeof(*plugin));
    plugin->name = strdup(def->name);
    plugin->api = &api;
    return plugin;
}

/* init_all runs each instance's Init; the plugin struct is shared. On a
 * failure it prints the summary line and returns -1. */
static int init_all(struct flbgo_output_plugin *plugin)
{
    for (int i = 0; i < ninstances; i++) {
        struct flb_output_instance *ins = &instances[i];
        ins->ctx = calloc(1, sizeof(*ins->ctx));
        plugin->o_ins = ins;
        plugin->context = ins->ctx;
        int ret = plugin_init(plugin);
        if (ret <= 0) {
            fprintf(stderr, "fbhost: FLBPluginInit of instance %d failed (%d)\n", i, ret);
            fprintf(stderr, "fbhost: chunks=0 records=0 ok=0 retry=0 error=0 dropped=0 init_failed=1\n");
            return -1;
        }
        if (plugin_flush_ctx && !ins->ctx->remote_context) {
            die("instance %d: FLBPluginInit set no context", i);
        }
    }
    return 0;
}

/* flush_all flushes every chunk repeat times over, from the worker
 * threads (or this thread with Workers 0), and returns the seconds taken. */
static double flush_all(void)
{
    next_chunk = 0;
    struct timeval t0, t1;
    gettimeofday(&t0, NULL);
    if (workers <= 0) {
        worker_main(NULL); /* Workers 0: the engine thread, which ran Init */
    } else {
        pthread_t th[64];
        int n = workers > 64 ? 64 : workers;
        for (int i = 0; i < n; i++) {
            pthread_create(&th[i], NULL, worker_main, NULL);
        }
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
        }
    }
    gettimeofday(&t1, NULL);
    return (t1.tv_sec - t0.tv_sec) + (t1.tv_usec - t0.tv_usec) / 1e6;
}

/* hold_point waits for a line or EOF on stdin (-H). */
static void hold_point(int round)
{
    fprintf(stderr, "fbhost: holding round=%d\n", round);
    fflush(stderr);
    char line[256];
    if (!fgets(line, sizeof(line), stdin)) {
        clearerr(stdin); /* EOF: go on; a later hold returns at once */
    }
}

int main(int argc, char **argv)
{
    const char *so = NULL;
    const char *logs[64], *raws[64];
    int nlogs = 0, nraws = 0;
    struct flb_output_instance *cur = NULL;
    int opt;
    int sample_rss = 0;
    while ((opt = getopt(argc, argv, "s:N:c:p:if:r:n:x:w:k:m:T:1R:B:L:qSHX:M:F:O:Y:P:K:G:")) != -1) {
        switch (opt) {
        case 's': so = optarg; break;
        case 'N': plugin_name = optarg; break;
        case 'c': load_config(optarg); break;
        case 'i': cur = new_instance(); break;
        case 'p': {
            if (!cur) {
                cur = ninstances ? &instances[ninstances - 1] : new_instance();
            }
            char *kv = strdup(optarg), *eq = strchr(kv, '=');
            if (!eq) {
                die("-p wants key=value, got %s", optarg);
            }
            *eq = 0;
            set_property(cur, kv, eq + 1);
            break;
        }
        case 'f': logs[nlogs++] = optarg; break;
        case 'r': raws[nraws++] = optarg; break;
        case 'n': records_per_chunk = atoi(optarg); break;
        case 'x': repeat = atoi(optarg); break;
        case 'w': workers = atoi(optarg); break;
        case 'k': message_key = optarg; break;
        case 'm': {
            char *kv = strdup(optarg), *eq = strchr(kv, '=');
            if (!eq || nmeta == 15) {
                die("-m wants key=value (at most 15)");
            }
            *eq = 0;
            meta_keys[nmeta] = kv;
            meta_values[nmeta++] = eq + 1;
            break;
        }
        case 'T': tag = optarg; break;
        case '1': v1_events = 1; break;
        case 'R': retry_limit = atoi(optarg); break;
        case 'B': backoff_ms = atoi(optarg); break;
        case 'L': {
            if (!cur) {
                cur = ninstances ? &instances[ninstances - 1] : new_instance();
            }
            set_property(cur, "log_level", optarg);
            break;
        }
        case 'q': quiet = 1; break;
        case 'S': sample_rss = 1; break;
        case 'H': hold = 1; break;
        case 'X': reloads = atoi(optarg); break;
        case 'M': {
            if (!cur) {
                cur = ninstances ? &instances[ninstances - 1] : new_instance();
            }
            set_property(cur, "match", optarg);
            break;
        }
        case 'F': fwd_path = optarg; break;
        case 'O': fwd_out_path = optarg; break;
        case 'Y': fwd_max_routed = atol(optarg); break;
        case 'P':
            if (sscanf(optarg, "%ld:%ld", &fwd_pause_at, &fwd_pause_for) != 2 || fwd_pause_at < 0 || fwd_pause_for < 0) {
                die("-P wants at_ms:for_ms, got %s", optarg);
            }
            break;
        case 'K': stop_after_ms = atol(optarg); break;
        case 'G': grace_s = atoi(optarg); break;
        default: die("see the usage at the top of fbhost.c");
        }
    }
    if (!so) {
        die("-s plugin.so is required");
    }
    if (stop_after_ms >= 0 && reloads > 0) {
        die("-K (a stop) and -X (reloads) do not go together");
    }
    if (fwd_pause_at >= 0 && !fwd_path) {
        die("-P pauses the forward input: it needs -F");
    }
    if (grace_s < 0) {
        die("-G wants the grace in seconds, 0 or more");
    }
    if (ninstances == 0) {
        new_instance();
    }

    /* A write to a connection the peer closed fails with EPIPE instead
     * of killing the process, as in Fluent Bit (src/flb_config.c). */
    signal(SIGPIPE, SIG_IGN);

    /* Load and register, as flb_plugin_proxy_create does. */
    void *h = dlopen(so, RTLD_LAZY);
    if (!h) {
        die("dlopen %s: %s", so, dlerror());
    }
    pre_register = (int (*)(int)) dlsym(h, "FLBPluginPreRegister");
    plugin_register = (int (*)(struct flb_plugin_proxy_def *)) dlsym(h, "FLBPluginRegister");
    plugin_init = (int (*)(struct flbgo_output_plugin *)) dlsym(h, "FLBPluginInit");
    plugin_flush_ctx = (int (*)(void *, const void *, size_t, char *)) dlsym(h, "FLBPluginFlushCtx");
    plugin_flush = (int (*)(const void *, size_t, const char *)) dlsym(h, "FLBPluginFlush");
    plugin_exit_ctx = (int (*)(void *)) dlsym(h, "FLBPluginExitCtx");
    plugin_exit = (int (*)(void)) dlsym(h, "FLBPluginExit");
    heap_live_kb = (long (*)(void)) dlsym(h, "SSHEnrichTestHeapLiveKB");
    if (!plugin_register || !plugin_init || (!plugin_flush_ctx && !plugin_flush)) {
        die("%s lacks FLBPluginRegister, FLBPluginInit or a flush callback", so);
    }
    struct flbgo_output_plugin *plugin = register_plugin(0);
    if (init_all(plugin) != 0) {
        return 3;
    }

    for (int i = 0; i < nlogs; i++) {
        load_log(logs[i]);
    }
    for (int i = 0; i < nraws; i++) {
        load_raw(raws[i]);
    }
    route_loaded();
    stat_chunks = (long) nchunks * repeat * (reloads + 1);
    if (fwd_path) {
        fwd_start();
    }

    pthread_t rss_thread;
    if (sample_rss) {
        pthread_create(&rss_thread, NULL, rss_main, NULL);
    }
    double secs = 0;
    pthread_t timer;
    if (fwd_pause_at >= 0) {
        pthread_create(&timer, NULL, pause_main, NULL);
        pthread_detach(timer);
    }
    if (stop_after_ms >= 0) {
        pthread_create(&timer, NULL, stop_main, NULL);
        pthread_detach(timer);
    }
    for (int round = 0;; round++) {
        secs += flush_all();
        if (stop_after_ms >= 0) {
            begin_stop(); /* everything was flushed before the stop came */
        }
        if (hold) {
            hold_point(round);
        }
        for (int i = 0; i < ninstances; i++) {
            if (plugin_exit_ctx) {
                plugin_exit_ctx(instances[i].ctx->remote_context);
            }
        }
        if (!plugin_exit_ctx && plugin_exit) {
            plugin_exit();
        }
        if (heap_live_kb) {
            fprintf(stderr, "fbhost: round=%d exited go_heap_live_kb=%ld\n", round, heap_live_kb());
        }
        if (stop_after_ms >= 0) {
            pthread_mutex_lock(&queue_mu);
            long never = (long) nchunks * repeat - next_chunk;
            for (long i = next_chunk; i < (long) nchunks * repeat; i++) {
                stat_kept_records += chunks[i % nchunks].records > 0 ? chunks[i % nchunks].records : 0;
            }
            for (long i = next_routed; i < nrouted; i++) {
                stat_kept_records += routed[i].records > 0 ? routed[i].records : 0;
            }
            stat_kept += never + (nrouted - next_routed);
            pthread_mutex_unlock(&queue_mu);
            fprintf(stderr, "fbhost: shutdown seconds=%.3f grace=%d kept_chunks=%ld kept_records=%ld\n", now_s() - stop_at, grace_s,
                    stat_kept, stat_kept_records);
        }
        if (round == reloads) {
            break;
        }
        /* Hot reload: the same path is loaded again, which is the same
         * handle, and registered and initialised as at start-up. */
        fprintf(stderr, "fbhost: hot reload %d\n", round + 1);
        plugin = register_plugin(1);
        if (init_all(plugin) != 0) {
            return 3;
        }
    }
    if (sample_rss) {
        rss_running = 0;
        pthread_join(rss_thread, NULL);
    }

    if (fwd_path) {
        shutdown(fwd_listener, SHUT_RDWR);
        close(fwd_listener);
        unlink(fwd_path);
        pthread_mutex_lock(&fwd_mu);
        fprintf(stderr, "fbhost: forward_in messages=%ld records=%ld routed=%ld stopped=%d\n", fwd_messages, fwd_records, fwd_routed,
                fwd_stopped);
        if (fwd_out) {
            fclose(fwd_out);
            fwd_out = NULL;
        }
        pthread_mutex_unlock(&fwd_mu);
    }
    fprintf(stderr, "fbhost: seconds=%.3f records_per_second=%.0f\n", secs, secs > 0 ? stat_records / secs : 0);
    fprintf(stderr, "fbhost: chunks=%ld records=%ld ok=%ld retry=%ld error=%ld dropped=%ld kept=%ld\n", stat_chunks,
            stat_records, stat_ok, stat_retry, stat_error, stat_dropped, stat_kept);
    return stat_ok + stat_kept == stat_chunks ? 0 : 1;
}
