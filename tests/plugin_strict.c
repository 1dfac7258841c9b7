/*  plugin_strict - README's plugin, built with -Werror=missing-prototypes
    and hidden visibility: it must compile as it stands and export its
    zhive_plugin_init (tests/CMakeLists.txt builds it; test_plugin_strict
    loads it into a worker). */
#include <zhive.h>

static int
s_add (zhive_job_t *job, void *state)
{
    (void) state;
    int64_t a, b;
    if (zhive_job_argc (job) != 2 || zhive_value_int (zhive_job_arg (job, 0), &a) ||
        zhive_value_int (zhive_job_arg (job, 1), &b))
        return zhive_job_fail (job, "BadArguments", "add expects two integers");
    return zhive_pack_int (zhive_job_reply (job), a + b);
}

int
zhive_plugin_init (zhive_worker_t *worker, const char *args)
{
    (void) args;
    return zhive_worker_register (worker, "add", s_add, NULL, ZHIVE_SYNC);
}
