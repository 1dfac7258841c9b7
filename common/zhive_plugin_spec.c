/*  =========================================================================
    zhive_plugin_spec - the one reading of a --load PLUGIN[:ARGS] value
    =========================================================================
*/
#include "zhive_plugin_spec.h"
#include <stdlib.h>
#include <string.h>

char *
zhive_plugin_spec_split (const char *spec, const char **args, const char **args_colon)
{
    const char *from = strstr (spec, ".so");
    if (from)
        from += 3;
    else {
        from = strrchr (spec, '/');
        from = from ? from : spec;
    }
    const char *colon = strchr (from, ':');
    if (args)
        *args = colon ? colon + 1 : "";
    if (args_colon)
        *args_colon = colon;
    return colon ? strndup (spec, (size_t) (colon - spec)) : strdup (spec);
}
