/*  =========================================================================
    zhive_plugin_spec - the one reading of a --load PLUGIN[:ARGS] value (private)

    zhive-worker, zhive-broker and zhive --local all take --load values
    "PATH[:ARGS]". The split is at the first ':' after ".so" (after the
    last '/' when there is no ".so"), so a path may hold colons before its
    file name: "/opt/a:b/libx.so:n=1" is the plugin "/opt/a:b/libx.so"
    with the arguments "n=1".
    =========================================================================
*/
#ifndef ZHIVE_PLUGIN_SPEC_H_INCLUDED
#define ZHIVE_PLUGIN_SPEC_H_INCLUDED

#ifdef __cplusplus
extern "C" {
#endif

//  Split spec into its path (returned, caller frees; NULL if out of
//  memory) and its arguments: if args is not NULL, *args points into spec
//  ("" if none); if args_colon is not NULL, *args_colon gets the ':' that
//  starts the arguments in spec, or NULL.
char *zhive_plugin_spec_split (const char *spec, const char **args, const char **args_colon);

#ifdef __cplusplus
}
#endif

#endif
