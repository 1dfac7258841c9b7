/*  =========================================================================
    zhive - run tasks on a zhive pool from the shell, JSON in and out

        zhive call fib '[30]'
        seq 1 100 | zhive map fib
        zhive status
        zhive call echo '[1,"a"]' --local 2 --load ./libzhive-examples.so
        zhive keygen alice

    Everything the command line gives (options, JSON arguments, stdin) is
    checked before anything is sent; bad input exits 2 with a message.
    With --local the tool starts its own broker thread, bound to private
    ephemeral ports on 127.0.0.1, and local worker processes; they are
    stopped before it exits.
    =========================================================================
*/
#include "zhive.h"
#include "zhive_curve.h"
#include "zhive_json.h"
#include "zhive_plugin_spec.h"
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

//  Exit statuses (documented in the usage text)
#define EXIT_OK          0      //  Every task succeeded
#define EXIT_TASK        1      //  A task failed
#define EXIT_USAGE       2      //  Bad command line or bad input
#define EXIT_UNREACHABLE 3      //  No broker, or a task timed out
#define EXIT_INTERNAL    4      //  Out of memory, output error, pool failure
#define EXIT_INTERRUPTED 130    //  SIGINT / SIGTERM

#define DEFAULT_BROKER "tcp://127.0.0.1:5555"
#define CONNECT_MAX_MS 5000     //  Longest wait for the broker's first answer
#define GRACE_MS       5000     //  Beyond a task deadline before we stop waiting
#define POOL_EMPTY_MS  10000    //  --local: longest time with no worker ready
#define TICK_MS        100      //  Wait slice: interrupts, progress, watchdogs
#define PROGRESS_MS    100      //  Progress bar redraw interval
#define STDOUT_BUFFER  (256 * 1024)

//  What the command line asked for
typedef struct {
    const char *broker;    //  Broker client endpoint
    bool broker_given;     //  --broker was given (conflicts with --local)
    int timeout;           //  Task deadline in ms; 0 = none
    bool timeout_given;    //  --timeout was given (bounds connecting)
    int local;             //  Local workers of an embedded pool; 0 = none
    zlistx_t *loads;       //  --load values, as given (char *, owned)
    int concurrency;       //  Tasks at once per local worker; 0 = default
    int window;            //  map: most tasks in flight; 0 = library default
    int task_timeout;      //  --task-timeout: task deadline only; 0 = --timeout's
    int retries;           //  --retries: redispatches after worker loss; -1 = default
    bool wait_if_full;     //  --wait-if-full: resend on QueueFull instead of failing
    bool keep_going;       //  Print task errors in place and go on
    bool json;             //  status: raw JSON
    bool quiet;            //  No progress bar
    bool verbose;          //  Embedded broker logs to stderr
    bool help;             //  Print usage and exit
    bool version;          //  Print version and exit
    zlistx_t *words;       //  Positional arguments (char *, borrowed)
    const char *secret;    //  CURVE: our secret certificate, or NULL
    const char *server;    //  CURVE: the broker's public certificate, or NULL
    bool force;            //  keygen: replace existing files
} s_options_t;

//  The progress bar on stderr
typedef struct {
    bool enabled;         //  stderr is a terminal and not --quiet
    bool drawn;           //  A bar is on screen now
    const char *label;    //  Function name shown before the bar
    size_t total;         //  Tasks in the map
    int64_t started;      //  When the map started (monotonic ms)
    int64_t drawn_at;     //  Last redraw (monotonic ms)
} s_progress_t;

//  One run of a command against a broker
typedef struct {
    s_options_t *options;        //  The command line
    zhive_broker_t *broker;      //  Embedded pool (--local), or NULL
    zhive_client_t *client;      //  Our connection to the broker
    const char *endpoint;        //  Where the client is connected (borrowed)
    const char *function;        //  Function being run (borrowed)
    int64_t last_news;           //  When a result last arrived (monotonic ms)
    int64_t pool_checked;        //  When we last asked the pool for workers
    int64_t pool_empty_since;    //  Since when the pool has no ready worker; 0 = has one
    s_progress_t progress;       //  Progress bar state
    bool stdout_tty;             //  stdout is a terminal (progress must step aside)
    bool failed;                 //  A task failed (--keep-going went on)
} s_session_t;

//  ---------------------------------------------------------------------
//  Usage and messages

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "Usage: zhive [OPTIONS] COMMAND [ARGS]\n"
             "\n"
             "Run tasks on a zhive pool; arguments and results are JSON.\n"
             "\n"
             "Commands:\n"
             "  call FUNCTION [ARGS]    run one task. ARGS is a JSON array of arguments\n"
             "                          (default []). Prints the result as one JSON line.\n"
             "  map FUNCTION            one task per non-empty stdin line: the line's JSON\n"
             "                          value is its single argument. Prints one result per\n"
             "                          line, in input order, as results arrive.\n"
             "  starmap FUNCTION        as map, but each line is a JSON array of arguments.\n"
             "  status                  show the broker's workers and queues.\n"
             "  keygen NAME             write a CURVE key pair: NAME (the public key, to put in\n"
             "                          a broker's --curve-allow directory, or to give as\n"
             "                          --broker-key) and NAME_secret (mode 0600). Refuses to\n"
             "                          replace existing files unless --force.\n"
             "  help                    show this text.\n"
             "\n"
             "Options (before or after the command):\n"
             "  -b, --broker ENDPOINT   broker client endpoint (default: $ZHIVE_BROKER,\n"
             "                          else " DEFAULT_BROKER ")\n"
             "  -t, --timeout MS        deadline of each task, from its submission, and the\n"
             "                          longest wait for the broker to answer when connecting\n"
             "                          (capped at %d ms). Default 0: tasks have no deadline\n"
             "                          and connecting waits %d ms.\n"
             "  -k, --keep-going        print a failed task as\n"
             "                          {\"error\":{\"type\":..,\"message\":..,\"worker\":..}}\n"
             "                          in its place and go on (the exit status is still 1)\n"
             "  -w, --window N          map/starmap: most tasks in flight at once (default 1000)\n"
             "  -T, --task-timeout MS   deadline of each task only (connecting keeps its own\n"
             "                          bound); past it the task fails with Timeout and, if\n"
             "                          running, its worker is told to cancel it\n"
             "  -r, --retries N         times a task may be redispatched after losing its\n"
             "                          worker (default: the broker's, 3); 0 = never\n"
             "  -W, --wait-if-full      when the broker's queue is full, resend with a backoff\n"
             "                          until the deadline instead of failing with QueueFull\n"
             "  -q, --quiet             no progress bar. map/starmap draw one on stderr only\n"
             "                          when stderr is a terminal.\n"
             "  -j, --json              status: print the status map as one JSON line\n"
             "  -l, --local N           run on an embedded pool of N local worker processes\n"
             "                          (its own broker on private 127.0.0.1 ports)\n"
             "  -L, --load PLUGIN[:ARGS]\n"
             "                          plugin the local workers load; repeatable, required\n"
             "                          with --local\n"
             "  -c, --concurrency N     tasks at once per local worker (default: the worker's)\n"
             "      --curve-secret FILE CURVE security: our secret certificate (NAME_secret of\n"
             "                          keygen; default $ZHIVE_CURVE_SECRET). With --local, the\n"
             "                          local pool runs CURVE with it (no --broker-key needed)\n"
             "      --broker-key FILE   CURVE: the broker's public certificate (default\n"
             "                          $ZHIVE_BROKER_KEY); goes with --curve-secret\n"
             "      --force             keygen: replace existing key files\n"
             "  -v, --verbose           local pool: log joins, losses and bad input to stderr\n"
             "  -h, --help              show this text\n"
             "  -V, --version           show the version\n"
             "\n"
             "Output: compact JSON, one value per line. msgpack values with no JSON form are\n"
             "written as {\"$bytes\":\"<base64>\"} (binary, or a string that is not UTF-8),\n"
             "{\"$ext\":[type,\"<base64>\"]}, and \"NaN\"/\"Infinity\"/\"-Infinity\"; an\n"
             "unsigned integer above 2^63-1 becomes a JSON real. Map keys that are not\n"
             "strings are written as their JSON text. Reals have 17 significant digits, so\n"
             "they read back exactly (0.1 prints as 0.10000000000000001). Input integers\n"
             "must fit 64 bits.\n"
             "\n"
             "Exit status:\n"
             "  0    every task succeeded\n"
             "  1    a task failed: \"error: TYPE: MESSAGE (worker NAME)\" on stderr; map and\n"
             "       starmap stop at the first failure, after printing the results before it.\n"
             "       With --keep-going: 1 if any task failed.\n"
             "  2    bad usage or input: unknown command or option, bad number, bad JSON,\n"
             "       invalid endpoint, --local without --load, an unreadable certificate\n"
             "  3    no broker answered, the broker went away, or a task timed out\n"
             "       (\"zhive: timeout: ...\"). With --local, also when no local worker\n"
             "       became ready within %d ms.\n"
             "  4    internal error: out of memory, output error, the local pool did not start\n"
             "  130  interrupted\n",
             CONNECT_MAX_MS, CONNECT_MAX_MS, POOL_EMPTY_MS);
}

//  Print "zhive: MESSAGE" on stderr
static void
s_complain (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("zhive: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
}

//  A usage error: say what, point at --help, and return EXIT_USAGE
static int
s_usage_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("zhive: ", stderr);
    vfprintf (stderr, format, args);
    fputs ("\nTry 'zhive --help' for more information.\n", stderr);
    va_end (args);
    return EXIT_USAGE;
}

//  Parse a whole decimal integer within [min, max]; 0 or -1
static int
s_parse_int (const char *text, long min, long max, int *out)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        return -1;
    *out = (int) value;
    return 0;
}

//  ---------------------------------------------------------------------
//  Command line. Options may come before or after the command: getopt_long
//  in "return in order" mode ('-' first) hands us each positional argument
//  as option 1, whatever POSIXLY_CORRECT says; ':' next makes a missing
//  value its own case. "--" ends the options.

static int
s_options_parse (s_options_t *self, int argc, char *argv [])
{
    static const struct option longopts [] = {
        { "broker", required_argument, NULL, 'b' },
        { "timeout", required_argument, NULL, 't' },
        { "keep-going", no_argument, NULL, 'k' },
        { "window", required_argument, NULL, 'w' },
        { "quiet", no_argument, NULL, 'q' },
        { "no-progress", no_argument, NULL, 'q' },
        { "json", no_argument, NULL, 'j' },
        { "local", required_argument, NULL, 'l' },
        { "load", required_argument, NULL, 'L' },
        { "concurrency", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "task-timeout", required_argument, NULL, 'T' },
        { "retries", required_argument, NULL, 'r' },
        { "wait-if-full", no_argument, NULL, 'W' },
        { "curve-secret", required_argument, NULL, 'S' },
        { "broker-key", required_argument, NULL, 'K' },
        { "force", no_argument, NULL, 'F' },
        { NULL, 0, NULL, 0 },
    };
    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "-:b:t:kw:qjl:L:c:vhVT:r:W", longopts, NULL)) != -1) {
        switch (option) {
            case 1: zlistx_add_end (self->words, optarg); break;
            case 'b':
                self->broker = optarg;
                self->broker_given = true;
                break;
            case 't':
                if (s_parse_int (optarg, -1, INT_MAX, &self->timeout))
                    return s_usage_error ("--timeout: '%s' is not a number of ms", optarg);
                if (self->timeout < 0)
                    self->timeout = 0;
                self->timeout_given = true;
                break;
            case 'k': self->keep_going = true; break;
            case 'T':
                if (s_parse_int (optarg, 1, INT_MAX, &self->task_timeout))
                    return s_usage_error ("--task-timeout: '%s' is not a positive number of ms",
                                          optarg);
                break;
            case 'r':
                if (s_parse_int (optarg, 0, 1000000, &self->retries))
                    return s_usage_error ("--retries: '%s' is not a number 0..1000000", optarg);
                break;
            case 'W': self->wait_if_full = true; break;
            case 'S': self->secret = optarg; break;
            case 'K': self->server = optarg; break;
            case 'F': self->force = true; break;
            case 'w':
                if (s_parse_int (optarg, 1, INT_MAX, &self->window))
                    return s_usage_error ("--window: '%s' is not a positive number", optarg);
                break;
            case 'q': self->quiet = true; break;
            case 'j': self->json = true; break;
            case 'l':
                if (s_parse_int (optarg, 1, 1024, &self->local))
                    return s_usage_error ("--local: '%s' is not a number of workers (1..1024)",
                                          optarg);
                break;
            case 'L': zlistx_add_end (self->loads, optarg); break;
            case 'c':
                if (s_parse_int (optarg, 1, 1000000, &self->concurrency))
                    return s_usage_error ("--concurrency: '%s' is not a positive number", optarg);
                break;
            case 'v': self->verbose = true; break;
            case 'h': self->help = true; break;
            case 'V': self->version = true; break;
            case ':': return s_usage_error ("option '%s' needs a value", argv [optind - 1]);
            default:
                if (optopt)
                    return s_usage_error ("unknown option '-%c'", optopt);
                return s_usage_error ("unknown option '%s'", argv [optind - 1]);
        }
    }
    //  After "--", everything left is positional
    for (; optind < argc; optind++)
        zlistx_add_end (self->words, argv [optind]);
    return EXIT_OK;
}

//  ---------------------------------------------------------------------
//  Progress bar: redrawn at most every PROGRESS_MS, only on a terminal

static void
s_progress_clear (s_progress_t *self)
{
    if (self->drawn) {
        fputs ("\r\033[K", stderr);
        fflush (stderr);
        self->drawn = false;
    }
}

static void
s_progress_draw (s_progress_t *self, size_t done)
{
    if (!self->enabled)
        return;
    int64_t now = zclock_mono ();
    if (now - self->drawn_at < PROGRESS_MS)
        return;
    self->drawn_at = now;
    double seconds = (double) (now - self->started) / 1000.0;
    double rate = seconds > 0 ? (double) done / seconds : 0;
    size_t total = self->total ? self->total : 1;
    char bar [25];
    size_t filled = done * (sizeof (bar) - 1) / total;
    for (size_t index = 0; index < sizeof (bar) - 1; index++)
        bar [index] = index < filled ? '#' : '.';
    bar [sizeof (bar) - 1] = 0;
    fprintf (stderr, "\r\033[K%.32s [%s] %zu/%zu %3d%% %.0f/s", self->label, bar, done, self->total,
             (int) (done * 100 / total), rate);
    fflush (stderr);
    self->drawn = true;
}

//  ---------------------------------------------------------------------
//  Output

//  Flush stdout, stepping the progress bar aside if both share a terminal.
//  Returns 0, or EXIT_INTERNAL after a write error (silent for a closed pipe).
static int
s_flush (s_session_t *self)
{
    if (self->stdout_tty)
        s_progress_clear (&self->progress);
    if (fflush (stdout) == 0)
        return EXIT_OK;
    if (errno != EPIPE)
        s_complain ("cannot write the output: %s", strerror (errno));
    return EXIT_INTERNAL;
}

//  Write one JSON value and a newline to stdout (buffered)
static int
s_print_json (json_t *value)
{
    char *text = value ? json_dumps (value, ZHIVE_JSON_DUMP_FLAGS) : NULL;
    if (!text) {
        s_complain ("out of memory");
        return EXIT_INTERNAL;
    }
    fputs (text, stdout);
    fputc ('\n', stdout);
    free (text);
    return EXIT_OK;
}

//  True for error types that mean "no answer in time", not "task failed"
static bool
s_error_is_unreachable (const char *type)
{
    return streq (type, ZHIVE_ERR_TIMEOUT) || streq (type, ZHIVE_ERR_NO_BROKER);
}

//  Report a task error on stderr; returns the exit status it calls for.
//  `line` is the input line of a map item, or 0.
static int
s_report_error (s_session_t *self, zhive_result_t *result, size_t line)
{
    const char *type = zhive_result_error_type (result);
    const char *message = zhive_result_error_message (result);
    const char *worker = zhive_result_error_worker (result);
    s_progress_clear (&self->progress);
    if (streq (type, ZHIVE_ERR_TIMEOUT)) {
        //  The broker's message says how long, and whether anyone offers it
        fprintf (stderr, "zhive: timeout: %s: ", self->function);
        if (*message)
            fputs (message, stderr);
        else if (self->options->timeout > 0)
            fprintf (stderr, "no result within %d ms", self->options->timeout);
        else
            fputs ("no result in time", stderr);
    }
    else if (streq (type, ZHIVE_ERR_NO_BROKER))
        fprintf (stderr, "zhive: lost the broker at %s: %s", self->endpoint, message);
    else {
        fprintf (stderr, "error: %s: %s", type, message);
        if (*worker)
            fprintf (stderr, " (worker %s)", worker);
    }
    if (line)
        fprintf (stderr, " [line %zu]", line);
    fputc ('\n', stderr);
    return s_error_is_unreachable (type) ? EXIT_UNREACHABLE : EXIT_TASK;
}

//  Print one result: the value as JSON, or the error (on stderr, or in
//  place with --keep-going). Returns EXIT_OK to go on, else the exit status.
static int
s_print_result (s_session_t *self, zhive_result_t *result, size_t line)
{
    if (!result) {
        s_complain ("out of memory");
        return EXIT_INTERNAL;
    }
    if (zhive_result_ok (result)) {
        json_t *value = zhive_json_from_msgpack (zhive_result_value (result));
        int rc = s_print_json (value);
        json_decref (value);
        return rc;
    }
    self->failed = true;
    if (!self->options->keep_going) {
        //  Results before this one go out first, then the error
        int rc = s_flush (self);
        return rc ? rc : s_report_error (self, result, line);
    }
    const char *type = zhive_result_error_type (result);
    const char *message = zhive_result_error_message (result);
    const char *worker = zhive_result_error_worker (result);
    json_t *error = json_object ();
    json_t *value = json_object ();
    if (error && value) {
        json_object_set_new (error, "type", zhive_json_string (type, strlen (type)));
        json_object_set_new (error, "message", zhive_json_string (message, strlen (message)));
        json_object_set_new (error, "worker",
                             *worker ? zhive_json_string (worker, strlen (worker)) : json_null ());
        json_object_set (value, "error", error);
    }
    int rc = s_print_json (value);
    json_decref (error);
    json_decref (value);
    return rc;
}

//  ---------------------------------------------------------------------
//  Waiting: called every TICK_MS while results are awaited. Returns EXIT_OK
//  to keep waiting, or an exit status after saying why not.

static int
s_watch (s_session_t *self)
{
    if (zsys_interrupted) {
        s_progress_clear (&self->progress);
        s_complain ("interrupted");
        return EXIT_INTERRUPTED;
    }
    int64_t now = zclock_mono ();
    //  The broker ends each task by its deadline; if it does not, it is gone
    int timeout = self->options->timeout;
    if (timeout > 0 && now - self->last_news > (int64_t) timeout + GRACE_MS) {
        s_progress_clear (&self->progress);
        s_complain ("timeout: %s: no answer from the broker at %s within %d ms", self->function,
                    self->endpoint, timeout + GRACE_MS);
        return EXIT_UNREACHABLE;
    }
    //  An embedded pool whose workers never get ready (a plugin that fails
    //  to initialise) would leave us waiting forever: give up instead
    if (self->broker && now - self->pool_checked >= 1000) {
        self->pool_checked = now;
        if (zhive_broker_workers_ready (self->broker) > 0)
            self->pool_empty_since = 0;
        else if (self->pool_empty_since == 0)
            self->pool_empty_since = now;
        else if (now - self->pool_empty_since > POOL_EMPTY_MS) {
            s_progress_clear (&self->progress);
            s_complain ("no local worker became ready within %d ms: does the plugin load?",
                        POOL_EMPTY_MS);
            return EXIT_UNREACHABLE;
        }
    }
    return EXIT_OK;
}

//  ---------------------------------------------------------------------
//  Input: JSON from the command line and from stdin

//  One map input: every non-empty stdin line as msgpack, and its line number
typedef struct {
    zhive_pack_t *items;    //  The items, one msgpack value each
    size_t *lines;          //  Input line of each item
    size_t count;           //  Items read
    size_t capacity;        //  Room in lines
} s_input_t;

static void
s_input_destroy (s_input_t *self)
{
    zhive_pack_destroy (&self->items);
    free (self->lines);
}

//  True if the line holds only JSON whitespace
static bool
s_blank (const char *text, size_t size)
{
    for (size_t index = 0; index < size; index++)
        if (text [index] != ' ' && text [index] != '\t' && text [index] != '\r' &&
            text [index] != '\n')
            return false;
    return true;
}

//  Read all of stdin before anything is sent, so that a bad line costs no
//  work. `arrays`: each line must be a JSON array (starmap).
static int
s_input_read (s_input_t *self, FILE *stream, bool arrays)
{
    self->items = zhive_pack_new ();
    if (!self->items) {
        s_complain ("out of memory");
        return EXIT_INTERNAL;
    }
    char *line = NULL;
    size_t line_capacity = 0;
    size_t number = 0;
    ssize_t size;
    int rc = EXIT_OK;
    while (rc == EXIT_OK && (size = getline (&line, &line_capacity, stream)) != -1) {
        number++;
        while (size > 0 && (line [size - 1] == '\n' || line [size - 1] == '\r'))
            line [--size] = 0;    //  One line: errors then need no line of their own
        if (s_blank (line, (size_t) size))
            continue;
        char why [256];
        json_t *value = zhive_json_parse (line, (size_t) size, why, sizeof (why));
        if (!value)
            rc = s_usage_error ("line %zu: %s", number, why);
        else if (arrays && !json_is_array (value))
            rc = s_usage_error ("line %zu: starmap needs a JSON array of arguments", number);
        else if (zhive_json_pack (self->items, value)) {
            s_complain ("out of memory");
            rc = EXIT_INTERNAL;
        }
        json_decref (value);
        if (rc == EXIT_OK && self->count == self->capacity) {
            size_t capacity = self->capacity ? self->capacity * 2 : 1024;
            size_t *lines = (size_t *) realloc (self->lines, capacity * sizeof (size_t));
            if (!lines) {
                s_complain ("out of memory");
                rc = EXIT_INTERNAL;
            }
            else {
                self->lines = lines;
                self->capacity = capacity;
            }
        }
        if (rc == EXIT_OK)
            self->lines [self->count++] = number;
    }
    if (rc == EXIT_OK && ferror (stream)) {
        s_complain ("cannot read stdin: %s", strerror (errno));
        rc = EXIT_USAGE;
    }
    free (line);
    return rc;
}

//  The arguments of `call`: a JSON array, packed. Returns EXIT_OK or EXIT_USAGE.
static int
s_call_args (const char *text, zhive_pack_t *args)
{
    char why [256];
    json_t *value = zhive_json_parse (text, strlen (text), why, sizeof (why));
    int rc = EXIT_OK;
    if (!value)
        rc = s_usage_error ("bad JSON arguments: %s", why);
    else if (!json_is_array (value))
        rc = s_usage_error ("arguments must be a JSON array, e.g. '[1,\"a\"]'");
    else if (zhive_json_pack (args, value)) {
        s_complain ("out of memory");
        rc = EXIT_INTERNAL;
    }
    json_decref (value);
    return rc;
}

//  ---------------------------------------------------------------------
//  Commands

//  Task options from the command line
static zhive_opts_t
s_task_opts (const s_options_t *options)
{
    zhive_opts_t opts = { .window = options->window, .wait_if_full = options->wait_if_full };
    if (options->task_timeout > 0)
        opts.timeout_ms = options->task_timeout;
    if (options->retries == 0)
        opts.retries = ZHIVE_NO_RETRIES;
    else if (options->retries > 0)
        opts.retries = options->retries;
    return opts;
}

static int
s_run_call (s_session_t *self, const zhive_pack_t *args)
{
    zhive_opts_t opts = s_task_opts (self->options);
    zhive_task_t *task = zhive_client_submit (self->client, self->function, args, &opts);
    if (!task) {
        s_complain ("cannot submit the task: %s", strerror (errno));
        return EXIT_INTERNAL;
    }
    int rc = EXIT_OK;
    while (rc == EXIT_OK && !zhive_task_wait (task, TICK_MS))
        rc = s_watch (self);
    if (rc == EXIT_OK) {
        zhive_result_t *result = zhive_task_take (task);
        rc = s_print_result (self, result, 0);
        zhive_result_destroy (&result);
    }
    zhive_task_destroy (&task);
    return rc;
}

static int
s_run_map (s_session_t *self, s_input_t *input, bool star)
{
    if (input->count == 0)
        return EXIT_OK;
    zhive_opts_t opts = s_task_opts (self->options);
    zhive_map_t *map =
        star ? zhive_client_starmap (self->client, self->function, input->items, &opts)
             : zhive_client_map (self->client, self->function, input->items, &opts);
    if (!map) {
        s_complain ("cannot start the map: %s", strerror (errno));
        return EXIT_INTERNAL;
    }
    self->progress.label = self->function;
    self->progress.total = input->count;
    self->progress.started = zclock_mono ();
    int rc = EXIT_OK;
    size_t done = 0;
    while (rc == EXIT_OK && done < input->count) {
        //  Take what has arrived without waiting; flush before we wait
        zhive_result_t *result = zhive_map_next (map, 0);
        if (!result && errno == ETIMEDOUT) {
            rc = s_flush (self);
            s_progress_draw (&self->progress, done);
            if (rc == EXIT_OK)
                result = zhive_map_next (map, TICK_MS);
        }
        if (result) {
            self->last_news = zclock_mono ();
            size_t index = zhive_result_index (result);
            rc = s_print_result (self, result, index < input->count ? input->lines [index] : 0);
            zhive_result_destroy (&result);
            done++;
            s_progress_draw (&self->progress, done);
            if (rc == EXIT_OK && zsys_interrupted)
                rc = s_watch (self);    //  Results pouring in must not hide ^C
        }
        else if (rc == EXIT_OK && errno == ETIMEDOUT)
            rc = s_watch (self);
        else if (rc == EXIT_OK) {
            s_progress_clear (&self->progress);
            s_complain ("the map ended after %zu of %zu results", done, input->count);
            rc = EXIT_INTERNAL;
        }
    }
    if (rc == EXIT_OK)
        rc = s_flush (self);
    s_progress_clear (&self->progress);
    zhive_map_destroy (&map);
    return rc;
}

//  One table cell from a status value: strings as they are (control
//  characters, which could drive the terminal, shown as '?'), anything
//  else as JSON text. Caller frees.
static char *
s_cell (const msgpack_object *value)
{
    const char *text;
    size_t size;
    if (value && value->type == MSGPACK_OBJECT_STR && zhive_value_str (value, &text, &size) == 0) {
        char *cell = (char *) malloc (size + 1);
        for (size_t index = 0; cell && index < size; index++) {
            unsigned char byte = (unsigned char) text [index];
            cell [index] = byte < 0x20 || byte == 0x7f ? '?' : (char) byte;
        }
        if (cell)
            cell [size] = 0;
        return cell;
    }
    if (!value)
        return strdup ("?");
    return zhive_json_dumps (value);
}

//  Print rows of cells as aligned columns, numbers to the right. cells
//  holds rows × columns strings, the first row being the headings.
static void
s_table_print (zlistx_t *cells, size_t columns)
{
    size_t widths [16] = { 0 };
    bool numeric [16];    //  Column holds only numbers: align right
    assert (columns <= 16);
    for (size_t column = 0; column < columns; column++)
        numeric [column] = true;
    size_t index = 0;
    for (char *cell = (char *) zlistx_first (cells); cell; cell = (char *) zlistx_next (cells)) {
        size_t width = strlen (cell);
        size_t column = index++ % columns;
        if (width > widths [column])
            widths [column] = width;
        if (index > columns && (width == 0 || strspn (cell, "0123456789") != width))
            numeric [column] = false;
    }
    index = 0;
    for (char *cell = (char *) zlistx_first (cells); cell; cell = (char *) zlistx_next (cells)) {
        size_t column = index++ % columns;
        bool last = column == columns - 1;
        if (numeric [column])
            printf ("%*s", (int) widths [column], cell);
        else if (last)
            printf ("%s", cell);
        else
            printf ("%-*s", (int) widths [column], cell);
        fputs (last ? "\n" : "  ", stdout);
    }
}

//  Add one cell per key of `row` (a status map entry) to the table
static void
s_table_row (zlistx_t *cells, const msgpack_object *row, const char *const *keys)
{
    for (; *keys; keys++) {
        const msgpack_object *value = zhive_value_get (row, *keys);
        char *cell;
        if (value && value->type == MSGPACK_OBJECT_ARRAY) {
            //  functions: a comma-separated list reads better than JSON
            zchunk_t *text = zchunk_new (NULL, 64);
            for (size_t item = 0; item < zhive_value_len (value); item++) {
                char *part = s_cell (zhive_value_at (value, item));
                if (item)
                    zchunk_extend (text, ",", 1);
                if (part)
                    zchunk_extend (text, part, strlen (part));
                free (part);
            }
            zchunk_extend (text, "", 1);
            cell = strdup ((char *) zchunk_data (text));
            zchunk_destroy (&text);
        }
        else
            cell = s_cell (value);
        zlistx_add_end (cells, cell ? cell : "?");
        free (cell);
    }
}

static int
s_run_status (s_session_t *self)
{
    int timeout = self->options->timeout > 0 ? self->options->timeout : CONNECT_MAX_MS;
    //  A pool we just started has no workers yet: give them a moment to join
    int64_t until = zclock_mono () + timeout;
    while (self->broker && zhive_broker_workers_ready (self->broker) < self->options->local &&
           zclock_mono () < until && !zsys_interrupted)
        zclock_sleep (20);
    zhive_result_t *result = zhive_client_status (self->client, timeout);
    if (!result || !zhive_result_ok (result)) {
        int rc = result ? s_report_error (self, result, 0) : EXIT_INTERNAL;
        zhive_result_destroy (&result);
        return rc;
    }
    const msgpack_object *status = zhive_result_value (result);
    int rc = EXIT_OK;
    if (self->options->json) {
        json_t *value = zhive_json_from_msgpack (status);
        rc = s_print_json (value);
        json_decref (value);
    }
    else {
        static const char *const worker_keys [] = { "id",        "host", "pid",       "concurrency",
                                                    "in_flight", "done", "functions", NULL };
        static const char *const worker_heads [] = { "WORKER",      "HOST",      "PID",
                                                     "CONCURRENCY", "IN FLIGHT", "DONE",
                                                     "FUNCTIONS",   NULL };
        static const char *const queue_keys [] = { "function", "waiting", "in_flight", NULL };
        static const char *const queue_heads [] = { "FUNCTION", "WAITING", "IN FLIGHT", NULL };
        const msgpack_object *workers = zhive_value_get (status, "workers");
        const msgpack_object *queues = zhive_value_get (status, "queues");

        zlistx_t *cells = zlistx_new ();
        zlistx_set_destructor (cells, (zlistx_destructor_fn *) zstr_free);
        zlistx_set_duplicator (cells, (zlistx_duplicator_fn *) strdup);
        for (const char *const *head = worker_heads; *head; head++)
            zlistx_add_end (cells, (void *) *head);
        for (size_t index = 0; index < zhive_value_len (workers); index++)
            s_table_row (cells, zhive_value_at (workers, index), worker_keys);
        if (zhive_value_len (workers))
            s_table_print (cells, 7);
        else
            printf ("no workers\n");

        zlistx_purge (cells);
        for (const char *const *head = queue_heads; *head; head++)
            zlistx_add_end (cells, (void *) *head);
        for (size_t index = 0; index < zhive_value_len (queues); index++)
            s_table_row (cells, zhive_value_at (queues, index), queue_keys);
        printf ("\n");
        if (zhive_value_len (queues))
            s_table_print (cells, 3);
        else
            printf ("no queues\n");
        zlistx_destroy (&cells);
    }
    zhive_result_destroy (&result);
    return rc;
}

//  ---------------------------------------------------------------------
//  Connecting: to a broker, or to an embedded pool we start

//  Resolve a --load value's PATH to an absolute path (the workers may not
//  share our idea of the current directory). A PATH with a '/' must exist;
//  a bare name that is not a file here is left for dlopen's search.
//  Returns the value to pass on (caller frees), or NULL after a message.
static char *
s_resolve_load (const char *load)
{
    const char *colon;
    char *path = zhive_plugin_spec_split (load, NULL, &colon);
    if (!path)
        return NULL;
    char *resolved = NULL;
    if (*path && access (path, R_OK) == 0) {
        char *absolute = realpath (path, NULL);
        if (absolute) {
            resolved = zsys_sprintf ("%s%s", absolute, colon ? colon : "");
            free (absolute);
        }
    }
    else if (!*path || strchr (path, '/'))
        s_usage_error ("--load: cannot read plugin '%s': %s", path,
                       *path ? strerror (errno) : "empty path");
    else
        resolved = strdup (load);
    free (path);
    return resolved;
}

//  Start the embedded broker and its workers. Returns EXIT_OK or a status.
static int
s_local_start (s_session_t *self)
{
    s_options_t *options = self->options;
    size_t count = zlistx_size (options->loads);
    char **loads = (char **) calloc (count + 1, sizeof (char *));
    if (!loads) {
        s_complain ("out of memory");
        return EXIT_INTERNAL;
    }
    int rc = EXIT_OK;
    size_t index = 0;
    for (const char *load = (const char *) zlistx_first (options->loads); load && rc == EXIT_OK;
         load = (const char *) zlistx_next (options->loads)) {
        loads [index] = s_resolve_load (load);
        rc = loads [index++] ? EXIT_OK : EXIT_USAGE;
    }
    if (rc == EXIT_OK) {
        self->broker = zhive_broker_new ();
        if (!self->broker) {
            s_complain ("cannot start the local broker");
            rc = EXIT_INTERNAL;
        }
    }
    if (rc == EXIT_OK) {
        zhive_broker_set_verbose (self->broker, options->verbose);
        //  CURVE if asked: the broker's own key is the only one it allows,
        //  and its workers and we use it
        if ((options->secret && zhive_broker_set_curve (self->broker, options->secret, NULL)) ||
            zhive_broker_bind_clients (self->broker, "tcp://127.0.0.1:*") ||
            zhive_broker_bind_workers (self->broker, "tcp://127.0.0.1:*") ||
            zhive_broker_start_workers (self->broker, options->local, (const char *const *) loads,
                                        options->concurrency)) {
            s_complain ("cannot start the local pool");
            rc = EXIT_INTERNAL;
        }
    }
    if (rc == EXIT_OK)
        self->endpoint = zhive_broker_clients_endpoint (self->broker);
    for (index = 0; index < count; index++)
        free (loads [index]);
    free (loads);
    return rc;
}

//  Connect the client to the broker (ours with --local). Returns EXIT_OK or a status.
static int
s_connect (s_session_t *self)
{
    s_options_t *options = self->options;
    self->endpoint = options->broker;
    if (options->local) {
        int rc = s_local_start (self);
        if (rc)
            return rc;
    }
    int timeout = CONNECT_MAX_MS;
    if (options->timeout_given && options->timeout > 0 && options->timeout < timeout)
        timeout = options->timeout;
    const char *server = options->local ? options->secret : options->server;
    self->client = options->secret
                       ? zhive_client_new_curve (self->endpoint, timeout, options->secret, server)
                       : zhive_client_new (self->endpoint, timeout);
    if (!self->client) {
        if (errno == EINVAL)
            return s_usage_error ("invalid broker endpoint '%s'", self->endpoint);
        if (zsys_interrupted) {
            s_complain ("interrupted");
            return EXIT_INTERRUPTED;
        }
        if (errno == ETIMEDOUT) {
            s_complain ("no broker answered at %s within %d ms%s", self->endpoint, timeout,
                        options->secret ? " (with CURVE: does the broker allow our key, and is "
                                          "--broker-key its key?)"
                                        : "");
            return EXIT_UNREACHABLE;
        }
        s_complain ("cannot connect to %s: %s", self->endpoint, strerror (errno));
        return EXIT_UNREACHABLE;
    }
    zhive_client_set_timeout (self->client, options->timeout > 0 ? options->timeout : -1);
    self->last_news = self->pool_checked = zclock_mono ();
    return EXIT_OK;
}

//  keygen NAME [--force]: write a CURVE key pair
static int
s_keygen (const s_options_t *options, const char *name, size_t words)
{
    if (!name || words > 2)
        return s_usage_error ("keygen takes one NAME: it writes NAME and NAME_secret");
    char error [512];
    if (zhive_curve_keygen (name, options->force, error, sizeof error)) {
        if (errno == EEXIST)
            return s_usage_error ("%s", error);
        s_complain ("%s", error);
        return EXIT_INTERNAL;
    }
    printf ("public key: %s (give it to brokers: their --curve-allow directory, or\n"
            "            --broker-key if this is a broker's key)\n"
            "secret key: %s_secret (mode 0600: keep it private, give it as --curve-secret)\n",
            name, name);
    return EXIT_OK;
}

//  ---------------------------------------------------------------------
//  Check the command and its arguments, read its input, connect, run it.

static int
s_main (s_options_t *options)
{
    if (options->help) {
        s_usage (stdout);
        return EXIT_OK;
    }
    if (options->version) {
        printf ("zhive %d.%d.%d\n", ZHIVE_VERSION_MAJOR, ZHIVE_VERSION_MINOR, ZHIVE_VERSION_PATCH);
        return EXIT_OK;
    }
    size_t words = zlistx_size (options->words);
    const char *command = (const char *) zlistx_first (options->words);
    const char *function = (const char *) zlistx_next (options->words);
    const char *extra = (const char *) zlistx_next (options->words);
    if (!command)
        return s_usage_error ("missing command (call, map, starmap or status)");
    if (streq (command, "help")) {
        s_usage (stdout);
        return EXIT_OK;
    }
    if (streq (command, "keygen"))
        return s_keygen (options, function, words);
    bool is_call = streq (command, "call");
    bool is_map = streq (command, "map");
    bool is_starmap = streq (command, "starmap");
    bool is_status = streq (command, "status");
    if (!is_call && !is_map && !is_starmap && !is_status)
        return s_usage_error ("unknown command '%s'", command);
    if (is_status && words > 1)
        return s_usage_error ("status takes no arguments");
    if (!is_status && !function)
        return s_usage_error ("%s: missing FUNCTION", command);
    if (!is_status && (strlen (function) == 0 || strlen (function) > 255))
        return s_usage_error ("%s: the function name must be 1 to 255 bytes", command);
    if ((is_map || is_starmap) && words > 2)
        return s_usage_error ("%s reads its items from stdin, one JSON value per line", command);
    if (is_call && words > 3)
        return s_usage_error ("call: give the arguments as one JSON array, e.g. '[1,2]'");
    if (options->local && zlistx_size (options->loads) == 0)
        return s_usage_error ("--local needs at least one --load PLUGIN.so");
    if (!options->local && zlistx_size (options->loads))
        return s_usage_error ("--load needs --local N");
    if (options->local && options->broker_given)
        return s_usage_error ("--broker and --local exclude each other");
    if (!options->local && !options->secret != !options->server)
        return s_usage_error ("CURVE needs both --curve-secret FILE (our secret certificate) and "
                              "--broker-key FILE (the broker's public one)");
    if (options->secret) {
        //  Checked now for a clear message; with --local the key is the broker's too
        char error [512], key [ZHIVE_CURVE_KEY_SIZE];
        zcert_t *cert = zhive_curve_load_pair (options->secret,
                                               options->local ? options->secret : options->server,
                                               key, error, sizeof error);
        if (!cert)
            return s_usage_error ("%s", error);
        zcert_destroy (&cert);
    }

    //  Read and check every input before connecting
    int rc = EXIT_OK;
    zhive_pack_t *args = NULL;
    s_input_t input = { 0 };
    if (is_call) {
        args = zhive_pack_new ();
        if (!args) {
            s_complain ("out of memory");
            return EXIT_INTERNAL;
        }
        rc = extra                        ? s_call_args (extra, args)
             : zhive_pack_array (args, 0) ? EXIT_INTERNAL
                                          : EXIT_OK;
    }
    else if (is_map || is_starmap)
        rc = s_input_read (&input, stdin, is_starmap);

    s_session_t session = { .options = options, .function = is_status ? "status" : function };
    session.stdout_tty = isatty (STDOUT_FILENO);
    session.progress.enabled = !options->quiet && isatty (STDERR_FILENO);
    if (rc == EXIT_OK)
        rc = s_connect (&session);
    if (rc == EXIT_OK) {
        if (is_call)
            rc = s_run_call (&session, args);
        else if (is_status)
            rc = s_run_status (&session);
        else
            rc = s_run_map (&session, &input, is_starmap);
    }
    if (rc == EXIT_OK && session.failed)
        rc = EXIT_TASK;    //  --keep-going went past a failure
    zhive_client_destroy (&session.client);
    zhive_broker_destroy (&session.broker);
    zhive_pack_destroy (&args);
    s_input_destroy (&input);
    return rc;
}

int
main (int argc, char *argv [])
{
    //  A closed output pipe is a write error we report, not a signal that
    //  would kill us before the local pool is stopped
    signal (SIGPIPE, SIG_IGN);
    char *buffer = (char *) malloc (STDOUT_BUFFER);
    if (buffer)
        setvbuf (stdout, buffer, _IOFBF, STDOUT_BUFFER);

    s_options_t options = { 0 };
    options.retries = -1;
    options.broker = getenv ("ZHIVE_BROKER");
    if (!options.broker || !*options.broker)
        options.broker = DEFAULT_BROKER;
    options.secret = getenv ("ZHIVE_CURVE_SECRET");
    if (options.secret && !*options.secret)
        options.secret = NULL;
    options.server = getenv ("ZHIVE_BROKER_KEY");
    if (options.server && !*options.server)
        options.server = NULL;
    options.loads = zlistx_new ();
    options.words = zlistx_new ();
    int rc = options.loads && options.words ? EXIT_OK : EXIT_INTERNAL;
    if (rc == EXIT_OK)
        rc = s_options_parse (&options, argc, argv);
    if (rc == EXIT_OK)
        rc = s_main (&options);
    zlistx_destroy (&options.loads);
    zlistx_destroy (&options.words);

    //  Close stdout ourselves: the last write error shows here, and the
    //  buffer can be freed once nothing can write to it
    if (fclose (stdout) != 0 && rc == EXIT_OK) {
        if (errno != EPIPE)
            fprintf (stderr, "zhive: cannot write the output: %s\n", strerror (errno));
        rc = EXIT_INTERNAL;
    }
    free (buffer);
    return rc;
}
