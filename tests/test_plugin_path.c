/*  test_plugin_path - where a --load PLUGIN is found (common/zhive_plugin_path) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "zhive_plugin_path.h"

//  A scratch tree: ROOT/a, ROOT/b, ROOT/prefix/bin, ROOT/prefix/lib/zhive,
//  ROOT/builtin, with plugin files in some of them
typedef struct {
    char root [256];    //  The scratch folder
} s_tree_t;

//  ROOT/relative as a path (a static buffer per call site is enough here)
static void
s_path (const s_tree_t *tree, const char *relative, char *path)
{
    snprintf (path, PATH_MAX, "%s/%s", tree->root, relative);
}

//  Create ROOT/relative as an empty file
static void
s_touch (const s_tree_t *tree, const char *relative)
{
    char path [PATH_MAX];
    s_path (tree, relative, path);
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fclose (file);
}

//  Create ROOT/relative as a folder
static void
s_mkdir (const s_tree_t *tree, const char *relative)
{
    char path [PATH_MAX];
    s_path (tree, relative, path);
    assert_int_equal (mkdir (path, 0700), 0);
}

static int
s_setup (void **state)
{
    s_tree_t *tree = (s_tree_t *) calloc (1, sizeof (s_tree_t));
    assert_non_null (tree);
    snprintf (tree->root, sizeof tree->root, "/tmp/test_plugin_path.XXXXXX");
    assert_non_null (mkdtemp (tree->root));
    s_mkdir (tree, "a");
    s_mkdir (tree, "b");
    s_mkdir (tree, "prefix");
    s_mkdir (tree, "prefix/bin");
    s_mkdir (tree, "prefix/lib");
    s_mkdir (tree, "prefix/lib/zhive");
    s_mkdir (tree, "builtin");
    s_touch (tree, "b/libone.so");    //  Only on the search path, second folder
    s_touch (tree, "a/libtwo.so");    //  In both search folders: a wins
    s_touch (tree, "b/libtwo.so");
    s_touch (tree, "prefix/lib/zhive/libtwo.so");
    s_touch (tree, "prefix/lib/zhive/libthree.so");    //  Beside the program only
    s_touch (tree, "builtin/libthree.so");
    s_touch (tree, "builtin/libfour.so");    //  Compiled-in folder only
    s_mkdir (tree, "a/libfolder.so");        //  Not a file: skipped
    s_touch (tree, "b/libfolder.so");
    *state = tree;
    return 0;
}

static int
s_teardown (void **state)
{
    s_tree_t *tree = (s_tree_t *) *state;
    char command [PATH_MAX + 16];
    snprintf (command, sizeof command, "rm -rf '%s'", tree->root);
    assert_int_equal (system (command), 0);
    free (tree);
    return 0;
}

//  Resolve name in the tree with search path "ROOT/a:ROOT/b" (or `path`
//  if given), program ROOT/prefix/bin/zhive-worker, libdir "lib", builtin
//  ROOT/builtin; expect ROOT/expected, or `name` itself if expected is NULL
static void
s_check (const s_tree_t *tree, const char *name, const char *search, const char *expected)
{
    char a [PATH_MAX], b [PATH_MAX], program [PATH_MAX], builtin [PATH_MAX];
    char search_path [3 * PATH_MAX], want [PATH_MAX], error [256] = "";
    s_path (tree, "a", a);
    s_path (tree, "b", b);
    s_path (tree, "prefix/bin/zhive-worker", program);
    s_path (tree, "builtin", builtin);
    if (search)
        snprintf (search_path, sizeof search_path, search, a, b);
    char *got = zhive_plugin_resolve_in (name, search ? search_path : NULL, program, "lib", builtin,
                                         error, sizeof error);
    assert_non_null (got);
    if (expected)
        s_path (tree, expected, want);
    else
        snprintf (want, sizeof want, "%s", name);
    assert_string_equal (got, want);
    free (got);
}

static void
test_search_order (void **state)
{
    const s_tree_t *tree = (const s_tree_t *) *state;
    s_check (tree, "libone.so", "%s:%s", "b/libone.so");
    s_check (tree, "libtwo.so", "%s:%s", "a/libtwo.so");
    s_check (tree, "libtwo.so", "%2$s:%1$s", "b/libtwo.so");
    //  Empty parts of the search path are skipped
    s_check (tree, "libone.so", "::%2$s:", "b/libone.so");
    //  No search path: the folder beside the program, then the built-in one
    s_check (tree, "libtwo.so", NULL, "prefix/bin/../lib/zhive/libtwo.so");
    s_check (tree, "libthree.so", "%s:%s", "prefix/bin/../lib/zhive/libthree.so");
    s_check (tree, "libfour.so", "%s:%s", "builtin/libfour.so");
    //  A folder of that name is no plugin
    s_check (tree, "libfolder.so", "%s:%s", "b/libfolder.so");
}

static void
test_left_to_the_loader (void **state)
{
    const s_tree_t *tree = (const s_tree_t *) *state;
    //  Found nowhere: the loader searches
    s_check (tree, "libnowhere.so", "%s:%s", NULL);
    s_check (tree, "libc.so.6", NULL, NULL);
    //  A name with a '/' is a path, never searched, even if a folder holds it
    s_check (tree, "./libone.so", "%s:%s", NULL);
    s_check (tree, "sub/libone.so", "%s:%s", NULL);
    s_check (tree, "/nonexistent/libtwo.so", "%s:%s", NULL);
}

static void
test_inputs_missing (void **state)
{
    const s_tree_t *tree = (const s_tree_t *) *state;
    char builtin [PATH_MAX], want [PATH_MAX], error [256] = "";
    s_path (tree, "builtin", builtin);
    //  No program, an absolute libdir, a program without a folder: no
    //  folder from the program, the built-in one still counts
    char *got =
        zhive_plugin_resolve_in ("libthree.so", NULL, NULL, "lib", builtin, error, sizeof error);
    s_path (tree, "builtin/libthree.so", want);
    assert_string_equal (got, want);
    free (got);
    char program [PATH_MAX];
    s_path (tree, "prefix/bin/zhive-worker", program);
    got = zhive_plugin_resolve_in ("libthree.so", NULL, program, "/abs/lib", builtin, error,
                                   sizeof error);
    assert_string_equal (got, want);
    free (got);
    got = zhive_plugin_resolve_in ("libthree.so", NULL, "zhive-worker", "lib", NULL, error,
                                   sizeof error);
    assert_string_equal (got, "libthree.so");
    free (got);
    //  An empty name is an error, with a reason
    assert_null (zhive_plugin_resolve_in ("", NULL, NULL, NULL, NULL, error, sizeof error));
    assert_string_equal (error, "empty plugin name");
    assert_null (zhive_plugin_resolve_in (NULL, NULL, NULL, NULL, NULL, NULL, 0));
}

static void
test_from_the_process (void **state)
{
    const s_tree_t *tree = (const s_tree_t *) *state;
    char a [PATH_MAX], b [PATH_MAX], search_path [2 * PATH_MAX + 2], error [256] = "";
    s_path (tree, "a", a);
    s_path (tree, "b", b);
    snprintf (search_path, sizeof search_path, "%s:%s", a, b);
    //  $ZHIVE_PLUGIN_PATH is read by zhive_plugin_resolve
    assert_int_equal (setenv (ZHIVE_PLUGIN_PATH_ENV, search_path, 1), 0);
    char *got = zhive_plugin_resolve ("libone.so", error, sizeof error);
    char want [PATH_MAX];
    s_path (tree, "b/libone.so", want);
    assert_string_equal (got, want);
    free (got);
    unsetenv (ZHIVE_PLUGIN_PATH_ENV);
    got = zhive_plugin_resolve ("libone.so", error, sizeof error);
    assert_string_equal (got, "libone.so");
    free (got);
    //  The folder beside this program (ZHIVE_BIN/../lib/zhive) is searched:
    //  a plugin put there for the test is found
    char program [PATH_MAX];
    ssize_t size = readlink ("/proc/self/exe", program, sizeof program - 1);
    assert_true (size > 0);
    program [size] = 0;
    *strrchr (program, '/') = 0;
    char folder [PATH_MAX + 16], plugin [PATH_MAX + 64];
    snprintf (folder, sizeof folder, "%s/../lib/zhive", program);
    int made = mkdir (folder, 0700) == 0;
    snprintf (plugin, sizeof plugin, "%s/libtest_plugin_path_%d.so", folder, (int) getpid ());
    FILE *file = fopen (plugin, "w");
    if (file) {
        fclose (file);
        got = zhive_plugin_resolve (strrchr (plugin, '/') + 1, error, sizeof error);
        assert_string_equal (got, plugin);
        free (got);
        unlink (plugin);
    }
    if (made)
        rmdir (folder);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_search_order),
        cmocka_unit_test (test_left_to_the_loader),
        cmocka_unit_test (test_inputs_missing),
        cmocka_unit_test (test_from_the_process),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
