/*  =========================================================================
    malloc_count - LD_PRELOAD shim that counts allocator calls per thread

        cc -O2 -shared -fPIC -o malloc_count.so malloc_count.c
        LD_PRELOAD=./malloc_count.so MALLOC_COUNT_DIR=/tmp/mc program ...
        touch /tmp/mc/PID.req   # within 20 ms: one snapshot appended to
                                # /tmp/mc/PID.txt, and PID.req removed

    A snapshot is one line per thread: "snap=K tid=T comm=NAME malloc=..
    calloc=.. realloc=.. free=.. bytes=.." (bytes asked of malloc, calloc
    and realloc). Counters only grow: bench/profile subtracts two snapshots
    taken around a fixed number of tasks. glibc only (calls __libc_*).
    A helper thread polls for the request file, so that no signal disturbs
    the program's own poll loops (zloop stops on EINTR).
    Used by bench/profile, not part of zhive.
    =========================================================================
*/
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t count, size_t size);
extern void *__libc_realloc (void *ptr, size_t size);
extern void __libc_free (void *ptr);

#define S_SLOTS 256

typedef struct {
    int tid;                   //  Thread id; 0 while the slot is free
    uint64_t malloc_calls;     //  Calls to malloc
    uint64_t calloc_calls;     //  Calls to calloc
    uint64_t realloc_calls;    //  Calls to realloc
    uint64_t free_calls;       //  Calls to free with a non-NULL pointer
    uint64_t bytes;            //  Bytes asked for
} s_slot_t;

static s_slot_t s_slots [S_SLOTS];
static int s_snapshot;
static __thread s_slot_t *s_mine;

static s_slot_t *
s_slot (void)
{
    if (s_mine)
        return s_mine;
    int tid = (int) syscall (SYS_gettid);
    for (int i = 0; i < S_SLOTS; i++) {
        int expected = 0;
        if (s_slots [i].tid == tid ||
            __atomic_compare_exchange_n (&s_slots [i].tid, &expected, tid, false, __ATOMIC_SEQ_CST,
                                         __ATOMIC_SEQ_CST)) {
            s_mine = &s_slots [i];
            return s_mine;
        }
    }
    return &s_slots [S_SLOTS - 1];    //  Overflow: shared, approximate
}

void *
malloc (size_t size)
{
    s_slot_t *slot = s_slot ();
    __atomic_fetch_add (&slot->malloc_calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&slot->bytes, size, __ATOMIC_RELAXED);
    return __libc_malloc (size);
}

void *
calloc (size_t count, size_t size)
{
    s_slot_t *slot = s_slot ();
    __atomic_fetch_add (&slot->calloc_calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&slot->bytes, count * size, __ATOMIC_RELAXED);
    return __libc_calloc (count, size);
}

void *
realloc (void *ptr, size_t size)
{
    s_slot_t *slot = s_slot ();
    __atomic_fetch_add (&slot->realloc_calls, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add (&slot->bytes, size, __ATOMIC_RELAXED);
    return __libc_realloc (ptr, size);
}

void
free (void *ptr)
{
    if (ptr) {
        s_slot_t *slot = s_slot ();
        __atomic_fetch_add (&slot->free_calls, 1, __ATOMIC_RELAXED);
    }
    __libc_free (ptr);
}

//  Async-signal-safe formatting
static size_t
s_put (char *buf, size_t at, const char *text)
{
    while (*text && at < 1000)
        buf [at++] = *text++;
    return at;
}

static size_t
s_put_u (char *buf, size_t at, uint64_t value)
{
    char digits [24];
    int n = 0;
    do {
        digits [n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    while (n && at < 1000)
        buf [at++] = digits [--n];
    return at;
}

static void
s_snapshot_write (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return;
    int snapshot = ++s_snapshot;
    for (int i = 0; i < S_SLOTS; i++) {
        s_slot_t *slot = &s_slots [i];
        if (!slot->tid)
            continue;
        //  Thread name, if the thread still lives
        char comm_path [1024], comm [20] = "?";
        size_t c = s_put (comm_path, 0, "/proc/self/task/");
        c = s_put_u (comm_path, c, (uint64_t) slot->tid);
        c = s_put (comm_path, c, "/comm");
        comm_path [c] = 0;
        int comm_fd = open (comm_path, O_RDONLY);
        if (comm_fd >= 0) {
            ssize_t got = read (comm_fd, comm, sizeof comm - 1);
            close (comm_fd);
            comm [got > 0 ? got : 0] = 0;
            for (char *p = comm; *p; p++)
                if (*p == '\n' || *p == ' ')
                    *p = *p == ' ' ? '_' : 0;
            if (!comm [0])
                strcpy (comm, "?");
        }
        char line [1024];
        size_t n = s_put (line, 0, "snap=");
        n = s_put_u (line, n, (uint64_t) snapshot);
        n = s_put (line, n, " tid=");
        n = s_put_u (line, n, (uint64_t) slot->tid);
        n = s_put (line, n, " comm=");
        n = s_put (line, n, comm);
        n = s_put (line, n, " malloc=");
        n = s_put_u (line, n, slot->malloc_calls);
        n = s_put (line, n, " calloc=");
        n = s_put_u (line, n, slot->calloc_calls);
        n = s_put (line, n, " realloc=");
        n = s_put_u (line, n, slot->realloc_calls);
        n = s_put (line, n, " free=");
        n = s_put_u (line, n, slot->free_calls);
        n = s_put (line, n, " bytes=");
        n = s_put_u (line, n, slot->bytes);
        n = s_put (line, n, "\n");
        ssize_t rc = write (fd, line, n);
        (void) rc;
    }
    close (fd);
}

static char s_request [1024];    //  DIR/PID.req
static char s_output [1024];     //  DIR/PID.txt

//  Polls for the request file; allocates nothing
static void *
s_watcher (void *arg)
{
    (void) arg;
    sigset_t all;
    sigfillset (&all);
    pthread_sigmask (SIG_BLOCK, &all, NULL);
    while (1) {
        struct timespec pause = { 0, 20 * 1000 * 1000 };
        nanosleep (&pause, NULL);
        if (access (s_request, F_OK) == 0) {
            s_snapshot_write (s_output);
            unlink (s_request);
        }
    }
    return NULL;
}

__attribute__ ((constructor)) static void
s_init (void)
{
    const char *dir = getenv ("MALLOC_COUNT_DIR");
    if (!dir)
        return;
    size_t at = s_put (s_request, 0, dir);
    at = s_put (s_request, at, "/");
    at = s_put_u (s_request, at, (uint64_t) getpid ());
    memcpy (s_output, s_request, at);
    s_put (s_request, at, ".req");
    s_put (s_output, at, ".txt");
    pthread_t thread;
    if (pthread_create (&thread, NULL, s_watcher, NULL) == 0)
        pthread_detach (thread);
}

//  A last snapshot when the program exits normally
__attribute__ ((destructor)) static void
s_fini (void)
{
    if (s_output [0])
        s_snapshot_write (s_output);
}
