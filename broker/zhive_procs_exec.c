/*  =========================================================================
    zhive_procs_exec - starting one local process: fork + exec

    Between fork and exec the child makes only async-signal-safe calls:
    its own process group (the broker, not the terminal, decides when
    workers stop), death with its parent (Linux), default signal actions
    and mask, the descriptors asked for and no others.
    =========================================================================
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    //  execvpe
#endif
#include "zhive_procs_exec.h"
#include "zhive_token.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

//  ---------------------------------------------------------------------
//  The program local workers run; caller owns the result

char *
zhive_procs_exec_program (const char *program)
{
    if (program && *program)
        return strdup (program);
    const char *env = getenv ("ZHIVE_WORKER");
    if (env && *env)
        return strdup (env);
    char path [PATH_MAX + 32];
    ssize_t size = readlink ("/proc/self/exe", path, PATH_MAX);
    if (size > 0) {
        path [size] = 0;
        char *slash = strrchr (path, '/');
        if (slash) {
            strcpy (slash + 1, "zhive-worker");
            if (access (path, X_OK) == 0)
                return strdup (path);
        }
    }
#ifdef ZHIVE_INSTALL_BINDIR
    if (access (ZHIVE_INSTALL_BINDIR "/zhive-worker", X_OK) == 0)
        return strdup (ZHIVE_INSTALL_BINDIR "/zhive-worker");
#endif
    return strdup ("zhive-worker");
}

//  In the child, between fork and exec: only async-signal-safe calls.
//  stdin_fd / stdout_fd, if not -1, become its stdin / stdout.
static void
s_child_exec (char **argv, char **envp, pid_t parent, int stdin_fd, int stdout_fd)
{
    setpgid (0, 0);    //  The broker, not the terminal, decides when workers stop
#ifdef __linux__
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    if (getppid () != parent)
        _exit (1);
#else
    (void) parent;
#endif
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        sigaction (sig, &action, NULL);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    if ((stdin_fd >= 0 && dup2 (stdin_fd, 0) < 0) || (stdout_fd >= 0 && dup2 (stdout_fd, 1) < 0))
        _exit (127);
#ifdef SYS_close_range
    if (syscall (SYS_close_range, 3, ~0U, 0))
#endif
    {
        for (int fd = 3; fd < 65536; fd++)
            close (fd);
    }
    if (strchr (argv [0], '/'))
        execve (argv [0], argv, envp);
    else
        execvpe (argv [0], argv, envp);
    static const char prefix [] = "zhive-broker: cannot run ";
    ssize_t rc = write (2, prefix, sizeof prefix - 1);
    rc = write (2, argv [0], strlen (argv [0]));
    rc = write (2, "\n", 1);
    (void) rc;
    _exit (127);
}

//  ---------------------------------------------------------------------
//  Fork and exec with ZHIVE_TOKEN_ENV=token in the environment; returns
//  the pid or -1

pid_t
zhive_procs_exec_spawn (char **argv, const char *token, int stdin_fd, int stdout_fd)
{
    char *entry = NULL;
    char **envp = zhive_token_environment (token, &entry);
    if (!envp) {
        errno = ENOMEM;
        return -1;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0)
        s_child_exec (argv, envp, parent, stdin_fd, stdout_fd);
    free (entry);
    free (envp);
    return pid;
}

//  ---------------------------------------------------------------------
//  How a process ended, from its wait status

void
zhive_procs_exec_describe (int status, char *how, size_t size)
{
    if (WIFSIGNALED (status))
        snprintf (how, size, "was killed by signal %d", WTERMSIG (status));
    else
        snprintf (how, size, "exited with code %d", WEXITSTATUS (status));
}
