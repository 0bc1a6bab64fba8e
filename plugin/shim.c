#include <stddef.h>
#include "shim.h"

void *sshenrich_plugin_api(void *plugin)
{
    return ((struct sshenrich_output_plugin *) plugin)->api;
}

void *sshenrich_plugin_ins(void *plugin)
{
    return ((struct sshenrich_output_plugin *) plugin)->o_ins;
}

/* cgo cannot call a variadic function pointer, hence this shim. */
int sshenrich_log_enabled(void *api, void *ins, int level)
{
    struct sshenrich_flb_api *a = api;
    if (a == NULL || a->log_print == NULL) {
        return 0;
    }
    if (a->output_log_check == NULL) {
        return level <= SSHENRICH_LOG_INFO;
    }
    return a->output_log_check(ins, level);
}

void sshenrich_log(void *api, void *ins, int level, const char *msg)
{
    struct sshenrich_flb_api *a = api;
    if (sshenrich_log_enabled(api, ins, level)) {
        a->log_print(level, NULL, 0, "%s", msg);
    }
}
