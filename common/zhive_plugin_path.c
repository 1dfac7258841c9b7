/*  =========================================================================
    zhive_plugin_path - where a --load PLUGIN is found
    =========================================================================
*/
#include "zhive_plugin_path.h"
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  The install's library folder relative to its prefix, and the plugin
//  folder compiled in (CMakeLists.txt defines both for an install)
#ifndef ZHIVE_INSTALL_LIBDIR
#define ZHIVE_INSTALL_LIBDIR "lib"
#endif
#ifndef ZHIVE_INSTALL_PLUGINDIR
#define ZHIVE_INSTALL_PLUGINDIR "/usr/local/lib/zhive"
#endif

//  Write a message into error, if there is room
static void
s_error (char *error, size_t error_size, const char *message)
{
    if (error && error_size)
        snprintf (error, error_size, "%s", message);
}

//  If folder[0..size) holds a regular file `name`, returns its path
//  (caller frees) in *found; 0, or -1 if out of memory
static int
s_try (const char *folder, size_t size, const char *name, char **found)
{
    *found = NULL;
    if (size == 0)
        return 0;
    char *path = (char *) malloc (size + 1 + strlen (name) + 1);
    if (!path)
        return -1;
    memcpy (path, folder, size);
    path [size] = '/';
    strcpy (path + size + 1, name);
    struct stat info;
    if (stat (path, &info) == 0 && S_ISREG (info.st_mode))
        *found = path;
    else
        free (path);
    return 0;
}

//  The plugin folder of an install holding `program`: its folder's
//  parent, then libdir/zhive. Returns it (caller frees), or NULL
static char *
s_program_folder (const char *program, const char *libdir)
{
    if (!program || !libdir || !*libdir || *libdir == '/')
        return NULL;
    const char *slash = strrchr (program, '/');
    if (!slash)
        return NULL;
    size_t size = (size_t) (slash - program);    //  The program's folder
    char *folder =
        (char *) malloc (size + strlen ("/../") + strlen (libdir) + strlen ("/zhive") + 1);
    if (folder)
        sprintf (folder, "%.*s/../%s/zhive", (int) size, program, libdir);
    return folder;
}

//  ---------------------------------------------------------------------
//  The search with its inputs given

char *
zhive_plugin_resolve_in (const char *name, const char *search_path, const char *program,
                         const char *libdir, const char *builtin, char *error, size_t error_size)
{
    if (!name || !*name) {
        s_error (error, error_size, "empty plugin name");
        return NULL;
    }
    char *found = NULL;
    if (strchr (name, '/'))
        found = strdup (name);    //  A path: not searched
    //  1. $ZHIVE_PLUGIN_PATH, folder by folder
    for (const char *from = search_path; !found && from && *from;) {
        const char *colon = strchr (from, ':');
        size_t size = colon ? (size_t) (colon - from) : strlen (from);
        if (s_try (from, size, name, &found))
            goto oom;
        from = colon ? colon + 1 : from + size;
    }
    //  2. The plugin folder beside the running program
    if (!found && program) {
        char *folder = s_program_folder (program, libdir);
        int rc = folder ? s_try (folder, strlen (folder), name, &found) : 0;
        free (folder);
        if (rc)
            goto oom;
    }
    //  3. The plugin folder compiled in
    if (!found && builtin && s_try (builtin, strlen (builtin), name, &found))
        goto oom;
    //  4. The loader's own search
    if (!found)
        found = strdup (name);
    if (!found)
        goto oom;
    return found;
oom:
    s_error (error, error_size, "out of memory");
    return NULL;
}

//  ---------------------------------------------------------------------
//  Resolve the plugin `name` for dlopen

char *
zhive_plugin_resolve (const char *name, char *error, size_t error_size)
{
    char program [PATH_MAX];
    ssize_t size = readlink ("/proc/self/exe", program, sizeof program - 1);
    if (size > 0)
        program [size] = 0;
    return zhive_plugin_resolve_in (name, getenv (ZHIVE_PLUGIN_PATH_ENV), size > 0 ? program : NULL,
                                    ZHIVE_INSTALL_LIBDIR, ZHIVE_INSTALL_PLUGINDIR, error,
                                    error_size);
}
