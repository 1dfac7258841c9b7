/*  =========================================================================
    testkit - waits with deadlines, ports, programs, files, child processes
    =========================================================================
*/
#include "testkit.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_POLL_MS 10    //  How often waits look again

//  ---------------------------------------------------------------------
//  Poll condition until it holds or the deadline passes

bool
testkit_wait_for (testkit_condition_fn *condition, void *arg, int timeout_ms)
{
    assert (condition);
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!condition (arg)) {
        if (zclock_mono () >= deadline)
            return condition (arg);
        zclock_sleep (S_POLL_MS);
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Wait for condition; fail the test with the message at the deadline

void
testkit_wait_until (testkit_condition_fn *condition, void *arg, int timeout_ms, const char *format,
                    ...)
{
    if (testkit_wait_for (condition, arg, timeout_ms))
        return;
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof message, format, args);
    va_end (args);
    fail_msg ("after %d ms: %s", timeout_ms, message);
}

//  ---------------------------------------------------------------------
//  A listener on 127.0.0.1:0; its fd, and the port it got

int
testkit_tcp_listen (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0 };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) || listen (fd, 8) ||
        getsockname (fd, (struct sockaddr *) &address, &length)) {
        if (fd >= 0)
            close (fd);
        return -1;
    }
    *port = ntohs (address.sin_port);
    return fd;
}

//  ---------------------------------------------------------------------
//  A connection to 127.0.0.1:port

int
testkit_tcp_connect (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof address)) {
        close (fd);
        return -1;
    }
    return fd;
}

//  ---------------------------------------------------------------------
//  A port the kernel picks, free right now

int
testkit_free_port (void)
{
    int port = 0;
    int fd = testkit_tcp_listen (&port);
    if (fd < 0)
        fail_msg ("cannot find a free port: %s", strerror (errno));
    close (fd);
    return port;
}

//  ---------------------------------------------------------------------
//  The port after the last ':' of an endpoint

int
testkit_port (const char *endpoint)
{
    const char *colon = endpoint ? strrchr (endpoint, ':') : NULL;
    return colon ? atoi (colon + 1) : 0;
}

//  ---------------------------------------------------------------------
//  A program of the build: $ZHIVE_WORKER for the worker, else in $ZHIVE_BIN

const char *
testkit_program (const char *name, char *buffer, size_t size)
{
    const char *program = streq (name, "zhive-worker") ? getenv ("ZHIVE_WORKER") : NULL;
    const char *bin = getenv ("ZHIVE_BIN");
    if (program)
        snprintf (buffer, size, "%s", program);
    else if (bin)
        snprintf (buffer, size, "%s/%s", bin, name);
    else
        fail_msg ("ZHIVE_BIN is not set (run through ctest): cannot find %s", name);
    return buffer;
}

//  ---------------------------------------------------------------------
//  The examples plugin

const char *
testkit_plugin (void)
{
    const char *plugin = getenv ("ZHIVE_PLUGIN");
    if (!plugin)
        fail_msg ("ZHIVE_PLUGIN is not set");
    return plugin;
}

//  ---------------------------------------------------------------------
//  A file's text, "" if it cannot be read

char *
testkit_read_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return strdup ("");
    char *text = (char *) calloc (1, 1 << 20);
    assert_non_null (text);
    size_t size = fread (text, 1, (1 << 20) - 1, file);
    text [size] = 0;
    fclose (file);
    return text;
}

//  ---------------------------------------------------------------------
//  A pipe with both ends close-on-exec

int
testkit_pipe (int ends [2])
{
    if (pipe (ends))
        return -1;
    fcntl (ends [0], F_SETFD, FD_CLOEXEC);
    fcntl (ends [1], F_SETFD, FD_CLOEXEC);
    return 0;
}

//  ---------------------------------------------------------------------
//  fork + exec argv, its output to log if given

pid_t
testkit_spawn (const char *const *argv, const char *log)
{
    assert (argv && argv [0]);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        if (log) {
            int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd >= 0) {
                dup2 (fd, STDOUT_FILENO);
                dup2 (fd, STDERR_FILENO);
            }
        }
        execv (argv [0], (char *const *) argv);
        _exit (127);
    }
    return pid;
}

//  ---------------------------------------------------------------------
//  Signal, wait with a deadline, SIGKILL if need be, reap

int
testkit_reap (pid_t pid, int signal, int timeout_ms)
{
    assert (pid > 0);
    kill (pid, signal);
    kill (pid, SIGCONT);
    int status = 0;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (true) {
        pid_t rc = waitpid (pid, &status, WNOHANG);
        if (rc == pid)
            return status;
        if (rc < 0)
            fail_msg ("process %d is no child of ours to reap", (int) pid);
        if (zclock_mono () >= deadline)
            break;
        zclock_sleep (S_POLL_MS);
    }
    kill (pid, SIGKILL);
    if (waitpid (pid, &status, 0) != pid)
        fail_msg ("cannot reap process %d: %s", (int) pid, strerror (errno));
    return status;
}
