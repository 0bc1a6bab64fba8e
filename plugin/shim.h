/*
 * The parts of Fluent Bit's Go proxy ABI that sshenrich reads beyond
 * fluent-bit-go: the flb_api table (for logging) and the plugin struct
 * that carries it. Field order follows Fluent Bit 5.x:
 * include/fluent-bit/flb_api.h and src/proxy/go/go.h.
 */
#ifndef SSHENRICH_SHIM_H
#define SSHENRICH_SHIM_H

struct sshenrich_flb_api {
    const char *(*output_get_property)(const char *, void *);
    const char *(*input_get_property)(const char *, void *);
    void *(*output_get_cmt_instance)(void *);
    void *(*input_get_cmt_instance)(void *);
    void (*log_print)(int, const char *, int, const char *, ...);
    int (*input_log_check)(void *, int);
    int (*output_log_check)(void *, int);
};

struct sshenrich_output_plugin {
    char *name;
    struct sshenrich_flb_api *api;
    void *o_ins;
    void *context;
};

/* Log levels of flb_log.h. */
enum { SSHENRICH_LOG_ERROR = 1, SSHENRICH_LOG_WARN = 2, SSHENRICH_LOG_INFO = 3,
       SSHENRICH_LOG_DEBUG = 4, SSHENRICH_LOG_TRACE = 5 };

void *sshenrich_plugin_api(void *plugin);
void *sshenrich_plugin_ins(void *plugin);
int sshenrich_log_enabled(void *api, void *ins, int level);
void sshenrich_log(void *api, void *ins, int level, const char *msg);

#endif
