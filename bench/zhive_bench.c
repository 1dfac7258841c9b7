/*  =========================================================================
    zhive_bench - the zhive side of the benchmark (bench/run drives it)

    One workload per invocation; each prints one machine-readable line,
    "NAME key=value ...", as shared/anchors/run does, and exits 0 (or 2 if
    the workload did not finish within its time limit: the line then says
    timeout=1 and holds what was done).

        zhive_bench map     N WINDOW SIZE WORKERS     pipelined map of echo
        zhive_bench apply   N SIZE WORKERS            sequential apply of echo
        zhive_bench chunked N WINDOW CHUNKSIZE WORKERS  map of N tiny items
        zhive_bench rss     N SIZE [BATCH]            broker RSS, N tasks queued
        zhive_bench scale   WORKERS N CONCURRENCY MS  async sleep tasks

    Environment:
        ZHIVE_BENCH_BROKER_ARGS  more options for workload 5's zhive-broker
        ZHIVE_BENCH_BUILD     zhive build tree (bin/zhive-worker, bin/zhive-broker,
                              lib/libzhive-examples.so); required
        ZHIVE_BENCH_CONNECT   use this running broker instead of an embedded
                              one (its workers are not ours: we only wait for
                              WORKERS of them); used for profiling
        ZHIVE_BENCH_LIMIT_S   time limit per workload in seconds (default 120)
        ZHIVE_BENCH_CONCURRENCY  worker concurrency for echo workloads (0: default)
        ZHIVE_BENCH_PREFETCH_MS  the embedded broker's prefetch (default: the broker's)
        ZHIVE_BENCH_HTTP      1: the embedded broker serves metrics (--http on
                              127.0.0.1, a free port) and a thread here scrapes
                              /metrics every second while the workload runs
                              (the count goes to stderr)
        ZHIVE_BENCH_HTTP_MS   the scrape interval in ms (default 1000)

    Every wait is bounded; every process started here (the embedded
    broker's local workers, the separate broker of `rss`) is stopped by pid.
    =========================================================================
*/
#include <czmq.h>    //  zsys, zclock: zhive.h does not include it
#include <zhive.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_READY_MS 30000    //  Most time to wait for workers to join
#define S_NEXT_MS  10000    //  Most time to wait for one result

//  Settings common to every workload
typedef struct {
    const char *build;             //  zhive build tree
    const char *connect;           //  External broker endpoint, or NULL
    double limit_s;                //  Time limit of the workload
    int concurrency;               //  Worker concurrency for echo workloads
    char worker_program [4096];    //  build/bin/zhive-worker
    char broker_program [4096];    //  build/bin/zhive-broker
    char plugin [4096];            //  build/lib/libzhive-examples.so
} s_env_t;

//  A pool to run against: an embedded broker with local workers, or a
//  client of an external broker
typedef struct {
    int port;            //  The broker's HTTP port
    int interval_ms;     //  Between scrapes
    pthread_t thread;    //  The scraper
    atomic_bool stop;    //  Set to end it
    long scrapes;        //  Scrapes answered 200
    long failures;       //  Scrapes that were not
    size_t bytes;        //  Bytes read
} s_scraper_t;

typedef struct {
    zhive_broker_t *broker;    //  Embedded broker, NULL if external
    zhive_client_t *client;    //  Connected client
    s_scraper_t *scraper;      //  Scraping its metrics (ZHIVE_BENCH_HTTP), or NULL
} s_pool_t;

static double
s_now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static long
s_arg_long (const char *text, long low, long high, const char *what)
{
    char *end = NULL;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < low || value > high) {
        fprintf (stderr, "zhive_bench: %s wants %ld..%ld, not '%s'\n", what, low, high, text);
        exit (64);
    }
    return value;
}

static int
s_env_init (s_env_t *env)
{
    memset (env, 0, sizeof *env);
    env->build = getenv ("ZHIVE_BENCH_BUILD");
    if (!env->build || !*env->build) {
        fprintf (stderr, "zhive_bench: set ZHIVE_BENCH_BUILD to the zhive build tree\n");
        return -1;
    }
    env->connect = getenv ("ZHIVE_BENCH_CONNECT");
    if (env->connect && !*env->connect)
        env->connect = NULL;
    const char *limit = getenv ("ZHIVE_BENCH_LIMIT_S");
    env->limit_s = limit && atof (limit) > 0 ? atof (limit) : 120;
    const char *concurrency = getenv ("ZHIVE_BENCH_CONCURRENCY");
    env->concurrency = concurrency ? atoi (concurrency) : 0;
    snprintf (env->worker_program, sizeof env->worker_program, "%s/bin/zhive-worker", env->build);
    snprintf (env->broker_program, sizeof env->broker_program, "%s/bin/zhive-broker", env->build);
    snprintf (env->plugin, sizeof env->plugin, "%s/lib/libzhive-examples.so", env->build);
    if (access (env->worker_program, X_OK) || access (env->plugin, R_OK) ||
        access (env->broker_program, X_OK)) {
        fprintf (stderr, "zhive_bench: %s does not hold a zhive build\n", env->build);
        return -1;
    }
    return 0;
}

//  Number of workers in a STATUS reply, and `waiting` of one function's
//  queue (0 if no such queue). Returns -1 if the status is an error.
static int
s_status (zhive_client_t *client, const char *function, size_t *workers, uint64_t *waiting)
{
    zhive_result_t *status = zhive_client_status (client, 5000);
    if (!status || !zhive_result_ok (status)) {
        if (status)
            fprintf (stderr, "zhive_bench: status: %s: %s\n", zhive_result_error_type (status),
                     zhive_result_error_message (status));
        zhive_result_destroy (&status);
        return -1;
    }
    const msgpack_object *value = zhive_result_value (status);
    *workers = zhive_value_len (zhive_value_get (value, "workers"));
    *waiting = 0;
    const msgpack_object *queues = zhive_value_get (value, "queues");
    for (size_t i = 0; function && i < zhive_value_len (queues); i++) {
        const msgpack_object *queue = zhive_value_at (queues, i);
        const char *name;
        size_t size;
        int64_t count;
        if (zhive_value_str (zhive_value_get (queue, "function"), &name, &size) == 0 &&
            size == strlen (function) && memcmp (name, function, size) == 0 &&
            zhive_value_int (zhive_value_get (queue, "waiting"), &count) == 0)
            *waiting = (uint64_t) count;
    }
    zhive_result_destroy (&status);
    return 0;
}

//  One GET /metrics over HTTP/1.0: bytes read, or -1 if it was not 200
static long
s_scrape_once (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd < 0 || connect (fd, (struct sockaddr *) &addr, sizeof addr)) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    const char *request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    long total = 0;
    char buffer [65536];
    char status [16] = "";
    if (write (fd, request, strlen (request)) == (ssize_t) strlen (request)) {
        while (true) {
            struct pollfd item = { fd, POLLIN, 0 };
            if (poll (&item, 1, 5000) <= 0)
                break;
            ssize_t got = read (fd, buffer, sizeof buffer);
            if (got <= 0)
                break;
            if (total == 0)
                snprintf (status, sizeof status, "%.12s", buffer);
            total += got;
        }
    }
    close (fd);
    return strncmp (status, "HTTP/1.1 200", 12) == 0 || strncmp (status, "HTTP/1.0 200", 12) == 0
               ? total
               : -1;
}

//  The scraper thread: a scrape every second until stopped
static void *
s_scraper_run (void *arg)
{
    s_scraper_t *self = (s_scraper_t *) arg;
    while (!atomic_load (&self->stop)) {
        long got = s_scrape_once (self->port);
        if (got < 0)
            self->failures++;
        else {
            self->scrapes++;
            self->bytes += (size_t) got;
        }
        for (int ms = 0; ms < self->interval_ms && !atomic_load (&self->stop); ms += 10)
            usleep (10000);
    }
    return NULL;
}

//  Start an embedded broker with `workers` local workers (or connect to
//  ZHIVE_BENCH_CONNECT) and wait until that many workers are ready.
static int
s_pool_start (s_pool_t *pool, const s_env_t *env, int workers, int concurrency)
{
    memset (pool, 0, sizeof *pool);
    const char *endpoint = env->connect;
    if (!endpoint) {
        pool->broker = zhive_broker_new ();
        const char *http = getenv ("ZHIVE_BENCH_HTTP");
#ifdef ZHIVE_HAVE_HTTP
        if (pool->broker && http && atoi (http) > 0) {
            const char *url;
            pool->scraper = (s_scraper_t *) calloc (1, sizeof (s_scraper_t));
            if (!pool->scraper || zhive_broker_set_http (pool->broker, "127.0.0.1:0") ||
                !(url = strrchr (zhive_broker_http_endpoint (pool->broker), ':'))) {
                fprintf (stderr, "zhive_bench: cannot serve metrics\n");
                return -1;
            }
            pool->scraper->port = atoi (url + 1);
            const char *interval = getenv ("ZHIVE_BENCH_HTTP_MS");
            pool->scraper->interval_ms = interval && atoi (interval) > 0 ? atoi (interval) : 1000;
            atomic_init (&pool->scraper->stop, false);
            if (pthread_create (&pool->scraper->thread, NULL, s_scraper_run, pool->scraper)) {
                free (pool->scraper);
                pool->scraper = NULL;
                fprintf (stderr, "zhive_bench: cannot start the scraper\n");
                return -1;
            }
        }
#else
        if (http && atoi (http) > 0) {
            fprintf (stderr, "zhive_bench: this zhive has no metrics server (--http)\n");
            return -1;
        }
#endif
        if (!pool->broker || zhive_broker_bind_clients (pool->broker, "tcp://127.0.0.1:*") ||
            zhive_broker_bind_workers (pool->broker, "tcp://127.0.0.1:*")) {
            fprintf (stderr, "zhive_bench: cannot start an embedded broker\n");
            return -1;
        }
        zhive_broker_set_worker_program (pool->broker, env->worker_program);
        const char *prefetch = getenv ("ZHIVE_BENCH_PREFETCH_MS");
        if (prefetch && *prefetch)
            zhive_broker_set_prefetch (pool->broker, atoi (prefetch));
        const char *loads [] = { env->plugin, NULL };
        if (zhive_broker_start_workers (pool->broker, workers, loads, concurrency)) {
            fprintf (stderr, "zhive_bench: cannot start %d local workers\n", workers);
            return -1;
        }
        endpoint = zhive_broker_clients_endpoint (pool->broker);
    }
    pool->client = zhive_client_new (endpoint, 5000);
    if (!pool->client) {
        fprintf (stderr, "zhive_bench: no broker at %s: %s\n", endpoint, strerror (errno));
        return -1;
    }
    double deadline = s_now () + S_READY_MS / 1000.0;
    while (s_now () < deadline && !zsys_interrupted) {
        size_t ready = 0;
        uint64_t waiting;
        if (pool->broker)
            ready = (size_t) zhive_broker_workers_ready (pool->broker);
        else if (s_status (pool->client, NULL, &ready, &waiting))
            ready = 0;
        if (ready >= (size_t) workers)
            return 0;
        zclock_sleep (20);
    }
    fprintf (stderr, "zhive_bench: %d workers did not get ready within %d ms\n", workers,
             S_READY_MS);
    return -1;
}

static void
s_pool_stop (s_pool_t *pool)
{
    if (pool->scraper) {
        atomic_store (&pool->scraper->stop, true);
        pthread_join (pool->scraper->thread, NULL);
        fprintf (stderr, "zhive_bench: metrics scraped %ld time(s) (%zu bytes), %ld failed\n",
                 pool->scraper->scrapes, pool->scraper->bytes, pool->scraper->failures);
        free (pool->scraper);
        pool->scraper = NULL;
    }
    zhive_client_destroy (&pool->client);
    zhive_broker_destroy (&pool->broker);    //  Stops its local workers by pid
}

//  ---------------------------------------------------------------------
//  Maps: N items (each `item` bytes of msgpack) through `function`; checks
//  that each result is ok and, if expect_size > 0, that it has that size.
//  Returns results taken; sets *errors and *timed_out.

typedef struct {
    size_t taken;      //  Results returned by zhive_map_next
    size_t errors;     //  Error results or wrong sizes
    bool timed_out;    //  Stopped by the time limit or a stall
    double secs;       //  From zhive_client_map to the last result
} s_map_run_t;

static s_map_run_t
s_map_run (zhive_client_t *client, const char *function, const zhive_pack_t *items,
           const zhive_opts_t *opts, size_t expect_size, double limit_s)
{
    s_map_run_t run = { 0, 0, false, 0 };
    double start = s_now ();
    double deadline = start + limit_s;
    zhive_map_t *map = zhive_client_map (client, function, items, opts);
    if (!map) {
        fprintf (stderr, "zhive_bench: map refused: %s\n", strerror (errno));
        run.timed_out = true;
        return run;
    }
    size_t count = zhive_map_size (map);
    while (run.taken < count) {
        zhive_result_t *result = zhive_map_next (map, S_NEXT_MS);
        if (!result) {
            fprintf (stderr, "zhive_bench: no result within %d ms after %zu of %zu\n", S_NEXT_MS,
                     run.taken, count);
            run.timed_out = true;
            break;
        }
        size_t size = 0;
        if (!zhive_result_ok (result)) {
            if (run.errors < 3)
                fprintf (stderr, "zhive_bench: item %zu: %s: %s\n", zhive_result_index (result),
                         zhive_result_error_type (result), zhive_result_error_message (result));
            run.errors++;
        }
        else if (expect_size && (zhive_result_data (result, &size), size != expect_size))
            run.errors++;
        zhive_result_destroy (&result);
        run.taken++;
        if ((run.taken & 1023) == 0 && s_now () > deadline) {
            fprintf (stderr, "zhive_bench: time limit of %.0f s reached after %zu of %zu\n",
                     limit_s, run.taken, count);
            run.timed_out = true;
            break;
        }
    }
    run.secs = s_now () - start;
    zhive_map_destroy (&map);
    return run;
}

//  Msgpack size of a bin of `size` bytes
static size_t
s_bin_size (size_t size)
{
    return size + (size < 256 ? 2 : size < 65536 ? 3 : 5);
}

//  ---------------------------------------------------------------------
//  Workload 1 and 4: pipelined map of echo, one `size`-byte bin per item

static int
s_bench_map (const s_env_t *env, long n, long window, long size, long workers)
{
    s_pool_t pool;
    if (s_pool_start (&pool, env, (int) workers, env->concurrency)) {
        s_pool_stop (&pool);
        return 1;
    }
    char *blob = (char *) malloc ((size_t) size);
    zhive_pack_t *items = zhive_pack_new ();
    if (!blob || !items)
        return 1;
    for (long i = 0; i < size; i++)
        blob [i] = (char) ('a' + i % 26);
    for (long i = 0; i < n; i++)
        if (zhive_pack_bytes (items, blob, (size_t) size))
            return 1;
    free (blob);
    zhive_opts_t opts = { .window = (int) window };
    //  echo returns its argument array: [bin]
    s_map_run_t run =
        s_map_run (pool.client, "echo", items, &opts, 1 + s_bin_size ((size_t) size), env->limit_s);
    zhive_pack_destroy (&items);
    printf ("zhive_map tasks=%zu window=%ld size=%ld workers=%ld secs=%.3f tasks_per_s=%.0f "
            "MB_per_s=%.1f errors=%zu timeout=%d\n",
            run.taken, window, size, workers, run.secs, run.taken / run.secs,
            run.taken * (double) size / run.secs / 1e6, run.errors, run.timed_out);
    fflush (stdout);
    s_pool_stop (&pool);
    return run.timed_out ? 2 : 0;
}

//  ---------------------------------------------------------------------
//  Workload 2: sequential apply of echo, round trip per call

static int
s_bench_apply (const s_env_t *env, long n, long size, long workers)
{
    s_pool_t pool;
    if (s_pool_start (&pool, env, (int) workers, env->concurrency)) {
        s_pool_stop (&pool);
        return 1;
    }
    char *blob = (char *) calloc (1, (size_t) size + 1);
    zhive_pack_t *args = zhive_pack_new ();
    double *lat = (double *) malloc (sizeof (double) * (size_t) n);
    if (!blob || !args || !lat)
        return 1;
    memset (blob, 'x', (size_t) size);
    zhive_pack_array (args, 1);
    zhive_pack_bytes (args, blob, (size_t) size);
    zhive_opts_t opts = { .timeout_ms = S_NEXT_MS };
    //  Warm up: connections, worker caches
    for (int i = 0; i < 100; i++) {
        zhive_result_t *result = zhive_client_apply (pool.client, "echo", args, &opts);
        zhive_result_destroy (&result);
    }
    size_t errors = 0;
    long done = 0;
    bool timed_out = false;
    double start = s_now ();
    double deadline = start + env->limit_s;
    for (; done < n; done++) {
        double t0 = s_now ();
        zhive_result_t *result = zhive_client_apply (pool.client, "echo", args, &opts);
        lat [done] = s_now () - t0;
        if (!result || !zhive_result_ok (result))
            errors++;
        zhive_result_destroy (&result);
        if (s_now () > deadline || zsys_interrupted) {
            timed_out = true;
            done++;
            break;
        }
    }
    double secs = s_now () - start;
    qsort (lat, (size_t) done, sizeof (double), s_cmp_double);
    printf ("zhive_apply tasks=%ld window=1 size=%ld workers=%ld secs=%.3f tasks_per_s=%.0f "
            "p50_us=%.1f p99_us=%.1f max_us=%.1f errors=%zu timeout=%d\n",
            done, size, workers, secs, done / secs, lat [done / 2] * 1e6,
            lat [done * 99 / 100] * 1e6, lat [done - 1] * 1e6, errors, timed_out);
    fflush (stdout);
    free (lat);
    free (blob);
    zhive_pack_destroy (&args);
    s_pool_stop (&pool);
    return timed_out ? 2 : 0;
}

//  ---------------------------------------------------------------------
//  Workload 3: a map of N tiny items (small integers), chunked if the API
//  has zhive_opts_t.chunksize (bench/run defines ZHIVE_HAVE_CHUNKSIZE when
//  a test compile finds the field)

static int
s_bench_chunked (const s_env_t *env, long n, long window, long chunksize, long workers)
{
    s_pool_t pool;
    if (s_pool_start (&pool, env, (int) workers, env->concurrency)) {
        s_pool_stop (&pool);
        return 1;
    }
    zhive_pack_t *items = zhive_pack_new ();
    if (!items)
        return 1;
    for (long i = 0; i < n; i++)
        zhive_pack_int (items, i % 100);
    zhive_opts_t opts = { .window = (int) window };
#ifdef ZHIVE_HAVE_CHUNKSIZE
    opts.chunksize = (int) chunksize;
    int chunking = 1;
#else
    int chunking = 0;
    chunksize = 1;
#endif
    //  echo returns [i]: two bytes for 0..99
    s_map_run_t run = s_map_run (pool.client, "echo", items, &opts, 2, env->limit_s);
    zhive_pack_destroy (&items);
    printf ("zhive_chunked tasks=%zu window=%ld chunksize=%ld chunking=%d workers=%ld secs=%.3f "
            "items_per_s=%.0f tasks_per_s=%.0f errors=%zu timeout=%d\n",
            run.taken, window, chunksize, chunking, workers, run.secs, run.taken / run.secs,
            run.taken / run.secs, run.errors, run.timed_out);
    fflush (stdout);
    s_pool_stop (&pool);
    return run.timed_out ? 2 : 0;
}

//  ---------------------------------------------------------------------
//  Workload 5: RSS of a separate zhive-broker with N tasks queued

//  VmRSS of a process in KiB, or -1
static long
s_rss_kb (pid_t pid, const char *field)
{
    char path [64], line [256];
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    long kb = -1;
    size_t length = strlen (field);
    while (fgets (line, sizeof line, file))
        if (strncmp (line, field, length) == 0 && line [length] == ':')
            kb = atol (line + length + 1);
    fclose (file);
    return kb;
}

//  Stop a process we started: SIGTERM, then SIGKILL after grace_ms
static void
s_stop_pid (pid_t pid, int grace_ms)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    for (int waited = 0; waited < grace_ms; waited += 10) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        zclock_sleep (10);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

//  Start zhive-broker on ephemeral loopback ports; reads the client
//  endpoint from its first line of output. Returns its pid or -1.
static pid_t
s_broker_spawn (const s_env_t *env, char *endpoint, size_t endpoint_size)
{
    int fds [2];
    if (pipe (fds))
        return -1;
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        //  If this process dies, so does the broker
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        dup2 (fds [1], 1);
        close (fds [0]);
        close (fds [1]);
        //  More broker options from ZHIVE_BENCH_BROKER_ARGS (words split at
        //  spaces): e.g. "--max-queue-per-client 0" for one client's 1M tasks
        const char *argv [32] = { env->broker_program, "--clients", "tcp://127.0.0.1:*",
                                  "--workers", "tcp://127.0.0.1:*" };
        int argc = 5;
        char *extra =
            getenv ("ZHIVE_BENCH_BROKER_ARGS") ? strdup (getenv ("ZHIVE_BENCH_BROKER_ARGS")) : NULL;
        for (char *word = extra ? strtok (extra, " ") : NULL; word && argc < 31;
             word = strtok (NULL, " "))
            argv [argc++] = word;
        argv [argc] = NULL;
        execv (env->broker_program, (char *const *) argv);
        _exit (127);
    }
    close (fds [1]);
    //  "zhive-broker: clients tcp://127.0.0.1:PORT, workers ..."
    char line [512];
    size_t used = 0;
    double deadline = s_now () + 10;
    while (used < sizeof line - 1 && !memchr (line, '\n', used) && s_now () < deadline) {
        struct pollfd item = { fds [0], POLLIN, 0 };
        if (poll (&item, 1, 100) <= 0)
            continue;
        ssize_t got = read (fds [0], line + used, sizeof line - 1 - used);
        if (got <= 0)
            break;
        used += (size_t) got;
    }
    close (fds [0]);    //  The broker prints nothing more on stdout
    line [used] = 0;
    const char *from = strstr (line, "clients ");
    if (!from) {
        fprintf (stderr, "zhive_bench: zhive-broker did not start: '%s'\n", line);
        s_stop_pid (pid, 1000);
        return -1;
    }
    from += strlen ("clients ");
    size_t length = strcspn (from, ", \n");
    snprintf (endpoint, endpoint_size, "%.*s", (int) length, from);
    return pid;
}

//  Waits until the broker shows `count` tasks waiting for `function`;
//  returns what it last saw
static uint64_t
s_wait_queued (zhive_client_t *client, const char *function, uint64_t count, double deadline)
{
    size_t workers;
    uint64_t waiting = 0;
    while (s_now () < deadline && !zsys_interrupted) {
        if (s_status (client, function, &workers, &waiting) == 0 && waiting >= count)
            break;
        zclock_sleep (5);
    }
    return waiting;
}

//  Submits n tasks in maps of `batch` (each map's tasks all at once) and
//  waits after each map until the broker has queued them: a small batch
//  measures what the broker keeps per task, batch = n adds what a burst
//  leaves behind in buffers on the way
static int
s_bench_rss (const s_env_t *env, long n, long size, long batch)
{
    char endpoint [256];
    pid_t pid = s_broker_spawn (env, endpoint, sizeof endpoint);
    if (pid < 0)
        return 1;
    int rc = 1;
    long batches = (n + batch - 1) / batch;
    zhive_client_t *client = zhive_client_new (endpoint, 5000);
    zhive_pack_t *items = zhive_pack_new ();
    char *blob = (char *) calloc (1, (size_t) size + 1);
    zhive_map_t **maps = (zhive_map_t **) calloc ((size_t) batches, sizeof (zhive_map_t *));
    if (!client || !items || !blob || !maps) {
        fprintf (stderr, "zhive_bench: cannot reach the broker at %s\n", endpoint);
        goto done;
    }
    const char *function = "bench_nobody_offers_this";
    double start = s_now ();
    double deadline = start + env->limit_s;
    s_wait_queued (client, function, 0, deadline);    //  Warm the broker's loop
    zclock_sleep (200);
    long before = s_rss_kb (pid, "VmRSS");
    memset (blob, 'q', (size_t) size);
    //  Nothing answers these tasks: they stay queued
    uint64_t submitted = 0, waiting = 0;
    start = s_now ();
    for (long b = 0; b < batches && s_now () < deadline; b++) {
        long count = n - (long) submitted < batch ? n - (long) submitted : batch;
        zhive_pack_reset (items);
        for (long i = 0; i < count; i++)
            zhive_pack_bytes (items, blob, (size_t) size);
        zhive_opts_t opts = { .window = (int) count };
        maps [b] = zhive_client_map (client, function, items, &opts);
        if (!maps [b]) {
            fprintf (stderr, "zhive_bench: map refused: %s\n", strerror (errno));
            break;
        }
        submitted += (uint64_t) count;
        waiting = s_wait_queued (client, function, submitted, deadline);
        if (waiting < submitted)
            break;
    }
    double secs = s_now () - start;
    bool timed_out = waiting < (uint64_t) n;
    zclock_sleep (200);    //  Let the broker settle its buffers
    long after = s_rss_kb (pid, "VmRSS");
    long hwm = s_rss_kb (pid, "VmHWM");
    //  The payload each task keeps: [bin size] (array header + bin header + bytes)
    size_t payload = 1 + s_bin_size ((size_t) size);
    double per_task = (after - before) * 1024.0 / (double) (waiting ? waiting : 1);
    printf ("zhive_rss tasks=%" PRIu64 " size=%ld batch=%ld payload=%zu rss_before_kb=%ld "
            "rss_after_kb=%ld hwm_kb=%ld bytes_per_task=%.1f bytes_per_task_beyond_payload=%.1f "
            "secs=%.3f submits_per_s=%.0f timeout=%d\n",
            waiting, size, batch, payload, before, after, hwm, per_task,
            per_task - (double) payload, secs, waiting / secs, timed_out);
    fflush (stdout);
    rc = timed_out ? 2 : 0;
done:
    s_stop_pid (pid, 3000);    //  First: destroying the maps would cancel their tasks
    for (long b = 0; maps && b < batches; b++)
        zhive_map_destroy (&maps [b]);
    free (maps);
    zhive_client_destroy (&client);
    zhive_pack_destroy (&items);
    free (blob);
    return rc;
}

//  ---------------------------------------------------------------------
//  Workload 6: scaling with async sleep tasks

static int
s_bench_scale (const s_env_t *env, long workers, long n, long concurrency, long ms)
{
    s_pool_t pool;
    if (s_pool_start (&pool, env, (int) workers, (int) concurrency)) {
        s_pool_stop (&pool);
        return 1;
    }
    zhive_pack_t *items = zhive_pack_new ();
    if (!items)
        return 1;
    for (long i = 0; i < n; i++)
        zhive_pack_int (items, ms);
    zhive_opts_t opts = { .window = (int) n };
    s_map_run_t run = s_map_run (pool.client, "sleep", items, &opts, 0, env->limit_s);
    zhive_pack_destroy (&items);
    double ideal = (double) workers * (double) concurrency * 1000.0 / (double) ms;
    double rate = run.taken / run.secs;
    printf ("zhive_scale workers=%ld tasks=%zu concurrency=%ld sleep_ms=%ld secs=%.3f "
            "tasks_per_s=%.0f ideal_tasks_per_s=%.0f efficiency=%.3f errors=%zu timeout=%d\n",
            workers, run.taken, concurrency, ms, run.secs, rate, ideal, rate / ideal, run.errors,
            run.timed_out);
    fflush (stdout);
    s_pool_stop (&pool);
    return run.timed_out ? 2 : 0;
}

//  ---------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr, "usage: zhive_bench map N WINDOW SIZE WORKERS\n"
                     "       zhive_bench apply N SIZE WORKERS\n"
                     "       zhive_bench chunked N WINDOW CHUNKSIZE WORKERS\n"
                     "       zhive_bench rss N SIZE [BATCH]\n"
                     "       zhive_bench scale WORKERS N CONCURRENCY SLEEP_MS\n"
                     "environment: ZHIVE_BENCH_BUILD (required), ZHIVE_BENCH_CONNECT, "
                     "ZHIVE_BENCH_LIMIT_S, ZHIVE_BENCH_CONCURRENCY, ZHIVE_BENCH_PREFETCH_MS, "
                     "ZHIVE_BENCH_HTTP\n");
}

int
main (int argc, char *argv [])
{
    zsys_init ();
    s_env_t env;
    if (argc < 2) {
        s_usage ();
        return 64;
    }
    if (s_env_init (&env))
        return 1;
    const char *mode = argv [1];
    if (streq (mode, "map") && argc == 6)
        return s_bench_map (&env, s_arg_long (argv [2], 1, 100000000, "N"),
                            s_arg_long (argv [3], 1, 100000000, "WINDOW"),
                            s_arg_long (argv [4], 0, 1 << 30, "SIZE"),
                            s_arg_long (argv [5], 1, 256, "WORKERS"));
    if (streq (mode, "apply") && argc == 5)
        return s_bench_apply (&env, s_arg_long (argv [2], 1, 100000000, "N"),
                              s_arg_long (argv [3], 0, 1 << 30, "SIZE"),
                              s_arg_long (argv [4], 1, 256, "WORKERS"));
    if (streq (mode, "chunked") && argc == 6)
        return s_bench_chunked (&env, s_arg_long (argv [2], 1, 100000000, "N"),
                                s_arg_long (argv [3], 1, 100000000, "WINDOW"),
                                s_arg_long (argv [4], 1, 100000000, "CHUNKSIZE"),
                                s_arg_long (argv [5], 1, 256, "WORKERS"));
    if (streq (mode, "rss") && (argc == 4 || argc == 5))
        return s_bench_rss (&env, s_arg_long (argv [2], 1, 100000000, "N"),
                            s_arg_long (argv [3], 0, 1 << 20, "SIZE"),
                            argc == 5 ? s_arg_long (argv [4], 1, 100000000, "BATCH")
                                      : s_arg_long (argv [2], 1, 100000000, "N"));
    if (streq (mode, "scale") && argc == 6)
        return s_bench_scale (&env, s_arg_long (argv [2], 1, 256, "WORKERS"),
                              s_arg_long (argv [3], 1, 100000000, "N"),
                              s_arg_long (argv [4], 1, 1000000, "CONCURRENCY"),
                              s_arg_long (argv [5], 1, 86400000, "SLEEP_MS"));
    s_usage ();
    return 64;
}
