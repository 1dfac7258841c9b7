/*  =========================================================================
    zhive_worker - a worker: one zloop that runs task handlers

    One DEALER socket talks to the broker's worker endpoint. The worker
    sends READY, then answers each TASK with DONE or FAILED. Jobs in flight
    sit in a doubly linked list so an async job can finish in any order and
    the worker can drop whatever is left when it is destroyed.

    A job's outcome can be recorded while its handler is still on the stack
    (zhive_job_fail / zhive_job_complete from inside the handler); the
    answer is then sent when the handler returns, so a handler never sees
    its own job freed under it.

    A socket monitor tells the worker when its connection to the broker
    comes back after a loss; it then sends READY again, since a restarted
    broker (or the same one, seeing a new routing id) knows nothing of it.
    =========================================================================
*/
#include "zhive_worker.h"
#include "zhive_proto.h"
#include "zhive_result.h"
#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <unistd.h>

#define S_ERR_BUSY        "Busy"     //  the broker sent more tasks than slots
#define S_CONCURRENCY     16         //  default slots
#define S_CONCURRENCY_MAX 1000000    //  what READY may announce
#define S_SNDHWM          100000     //  answers queued while the broker is away
#define S_LINGER_MS       500        //  time to deliver BYE on destroy
#define S_HEARTBEAT_MS    5000       //  ZMTP heartbeat: finds a broker gone silent
#define S_HEARTBEAT_TTL   15000      //  silence after which the connection is dropped

typedef struct {
    char *name;              //  Function name offered to the broker
    zhive_handler_fn *fn;    //  The handler
    void *state;             //  The handler's pointer from registration
    int flags;               //  ZHIVE_SYNC or ZHIVE_ASYNC
} s_handler_t;

struct _zhive_job_t {
    zhive_worker_t *worker;            //  Worker running the job
    s_handler_t *handler;              //  Handler called for it (the worker owns it)
    uint64_t ticket;                   //  Broker's ticket, echoed in the answer
    zmq_msg_t frame;                   //  Args bytes; the unpacked args point into them
    msgpack_unpacked args;             //  The args array, unpacked
    zhive_pack_t *reply;               //  Reply buffer, made on first use
    void *data;                        //  An async handler's own state
    bool in_handler;                   //  True while its handler call is on the stack
    bool completed;                    //  zhive_job_complete called inside the handler
    bool failed;                       //  zhive_job_fail called
    char type [ZHIVE_NAME_MAX + 1];    //  Error type given to zhive_job_fail
    char *message;                     //  Error message given to zhive_job_fail
    zhive_job_t *prev;                 //  Previous job in flight
    zhive_job_t *next;                 //  Next job in flight
};

struct _zhive_worker_t {
    zloop_t *loop;                     //  The one event loop
    zsock_t *dealer;                   //  DEALER to the broker's worker endpoint
    zsock_t *monitor;                  //  PAIR receiving the dealer's connection events
    zhive_proto_t *in;                 //  Last message from the broker
    zhive_proto_t *out;                //  Message being sent
    s_handler_t **handlers;            //  Registered handlers, in registration order
    size_t handlers_count;             //  How many
    zhashx_t *lookup;                  //  Function name -> handler (not owning)
    zlistx_t *plugins;                 //  dlopen handles, closed on destroy
    char name [ZHIVE_NAME_MAX + 1];    //  Name reported to the broker
    char host [ZHIVE_NAME_MAX + 1];    //  Host name reported to the broker
    uint32_t concurrency;              //  Most jobs at once: the credit READY grants
    bool verbose;                      //  Log what happens to stderr
    zhive_job_t *jobs;                 //  Jobs in flight (head of the list)
    size_t in_flight;                  //  Length of that list
    uint64_t done;                     //  Tasks answered with DONE or FAILED
    bool started;                      //  zhive_worker_run was called
    bool running;                      //  Inside zhive_worker_run
    bool stopping;                     //  zhive_worker_stop was called
    bool failed;                       //  run must return -1 (BYE from broker, ...)
    int stop_timer;                    //  Timer that ends the loop after a stop, or 0
    bool disconnected;                 //  The connection to the broker was lost
};

//  ---------------------------------------------------------------------
//  Logging: errors always, the rest when verbose

static void s_log (zhive_worker_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_log (zhive_worker_t *self, const char *format, ...)
{
    if (!self->verbose)
        return;
    va_list args;
    va_start (args, format);
    fprintf (stderr, "zhive-worker %s: ", self->name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

static void s_error (zhive_worker_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_error (zhive_worker_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "zhive-worker %s: ", self->name);
    vfprintf (stderr, format, args);
    fprintf (stderr, "\n");
    va_end (args);
}

//  ---------------------------------------------------------------------
//  Sending

static int
s_send (zhive_worker_t *self)
{
    int command = self->out->command;
    if (zhive_proto_send (self->out, self->dealer)) {
        s_error (self, "cannot send %s to the broker: %s", zhive_proto_command_name (command),
                 zmq_strerror (zmq_errno ()));
        zhive_proto_clear_payload (self->out);
        return -1;
    }
    return 0;
}

static int
s_send_ready (zhive_worker_t *self)
{
    zhive_proto_t *out = self->out;
    out->command = ZHIVE_READY;
    zhive_proto_set_name (out->worker, self->name);
    zhive_proto_set_name (out->host, self->host);
    out->pid = (uint64_t) getpid ();
    out->concurrency = self->concurrency;
    //  The codec packs out->functions; lend it our names for the call
    char **names = (char **) calloc (self->handlers_count + 1, sizeof (char *));
    if (!names) {
        s_error (self, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < self->handlers_count; i++)
        names [i] = self->handlers [i]->name;
    out->functions = names;
    out->functions_count = self->handlers_count;
    int rc = s_send (self);
    out->functions = NULL;
    out->functions_count = 0;
    free (names);
    if (rc == 0)
        s_log (self, "READY sent: concurrency %u, %zu functions", self->concurrency,
               self->handlers_count);
    return rc;
}

static void
s_send_failed (zhive_worker_t *self, uint64_t ticket, const char *type, const char *message)
{
    zhive_proto_t *out = self->out;
    out->command = ZHIVE_FAILED;
    out->id = ticket;
    zhive_proto_set_name (out->type, type);
    zhive_proto_set_message (out, message);
    s_log (self, "FAILED ticket %" PRIu64 ": %s: %s", ticket, type, message);
    s_send (self);
}

//  Answers a task that never became a job, with a printf-style message
static void s_reject (zhive_worker_t *self, uint64_t ticket, const char *type, const char *format,
                      ...) __attribute__ ((format (printf, 4, 5)));

static void
s_reject (zhive_worker_t *self, uint64_t ticket, const char *type, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *message = zsys_vprintf (format, args);
    va_end (args);
    s_send_failed (self, ticket, type, message ? message : type);
    zstr_free (&message);
}

//  ---------------------------------------------------------------------
//  Jobs

static zhive_job_t *
s_job_new (zhive_worker_t *self, s_handler_t *handler, uint64_t ticket, zmq_msg_t *frame)
{
    zhive_job_t *job = (zhive_job_t *) calloc (1, sizeof (zhive_job_t));
    if (!job)
        return NULL;
    job->worker = self;
    job->handler = handler;
    job->ticket = ticket;
    zmq_msg_init (&job->frame);
    zmq_msg_move (&job->frame, frame);
    msgpack_unpacked_init (&job->args);
    //  Link in at the head
    job->next = self->jobs;
    if (self->jobs)
        self->jobs->prev = job;
    self->jobs = job;
    self->in_flight++;
    return job;
}

static void
s_job_destroy (zhive_job_t **job_p)
{
    zhive_job_t *job = *job_p;
    if (!job)
        return;
    zhive_worker_t *self = job->worker;
    if (job->prev)
        job->prev->next = job->next;
    else
        self->jobs = job->next;
    if (job->next)
        job->next->prev = job->prev;
    self->in_flight--;
    msgpack_unpacked_destroy (&job->args);
    zmq_msg_close (&job->frame);
    zhive_pack_destroy (&job->reply);
    free (job->message);
    free (job);
    *job_p = NULL;
}

//  Size of the packed reply, or -1 if it is not exactly one value. No
//  reply at all is fine: it is sent as nil.
static ssize_t
s_job_reply_size (zhive_job_t *job)
{
    if (!job->reply || zhive_pack_size (job->reply) == 0)
        return 0;
    size_t size = zhive_pack_size (job->reply);
    ssize_t value = zhive_msgpack_skip (zhive_pack_data (job->reply), size);
    return value == (ssize_t) size ? value : -1;
}

//  Sends the job's answer and frees it: FAILED if it failed, else DONE
static void
s_job_finish (zhive_job_t *job)
{
    zhive_worker_t *self = job->worker;
    const char *function = job->handler->name;
    if (job->failed) {
        if (job->message)
            s_send_failed (self, job->ticket, job->type, job->message);
        else
            s_reject (self, job->ticket, job->type, "handler '%s' failed without a message",
                      function);
    }
    else {
        ssize_t size = s_job_reply_size (job);
        if (size < 0)
            s_reject (self, job->ticket, ZHIVE_ERR_HANDLER,
                      "handler '%s' packed %zu bytes that are not exactly one msgpack value",
                      function, zhive_pack_size (job->reply));
        else {
            static const char nil = (char) 0xc0;
            zhive_proto_t *out = self->out;
            out->command = ZHIVE_DONE;
            out->id = job->ticket;
            if (zhive_proto_set_payload (out, size ? zhive_pack_data (job->reply) : &nil,
                                         size ? (size_t) size : 1))
                s_error (self, "out of memory answering ticket %" PRIu64, job->ticket);
            else {
                s_log (self, "DONE ticket %" PRIu64 " (%s, %zd bytes)", job->ticket, function,
                       size);
                s_send (self);
            }
        }
    }
    self->done++;
    s_job_destroy (&job);
}

//  Records a failure with a message already formatted (takes ownership)
static void
s_job_set_failed (zhive_job_t *job, const char *type, char *message)
{
    job->failed = true;
    zhive_proto_set_name (job->type, type && *type ? type : ZHIVE_ERR_HANDLER);
    free (job->message);
    job->message = message;
}

//  Unpacks and checks the args, then calls the handler and, unless it is
//  an async job still pending, sends the answer
static void
s_job_start (zhive_job_t *job)
{
    const char *data = (const char *) zmq_msg_data (&job->frame);
    size_t size = zmq_msg_size (&job->frame);
    uint8_t tag = size ? (uint8_t) data [0] : 0;
    bool is_array = (tag & 0xf0) == 0x90 || tag == 0xdc || tag == 0xdd;
    size_t offset = 0;
    if (!is_array || zhive_msgpack_skip (data, size) != (ssize_t) size) {
        s_job_set_failed (
            job, ZHIVE_ERR_MALFORMED,
            zsys_sprintf ("arguments of '%s' are not one valid msgpack array", job->handler->name));
        s_job_finish (job);
        return;
    }
    if (msgpack_unpack_next (&job->args, data, size, &offset) != MSGPACK_UNPACK_SUCCESS ||
        job->args.data.type != MSGPACK_OBJECT_ARRAY) {
        s_job_set_failed (job, ZHIVE_ERR_MALFORMED,
                          zsys_sprintf ("arguments of '%s' cannot be unpacked (nested too "
                                        "deeply?)",
                                        job->handler->name));
        s_job_finish (job);
        return;
    }
    job->in_handler = true;
    int rc = job->handler->fn (job, job->handler->state);
    job->in_handler = false;
    if (rc != 0 && !job->failed)
        s_job_set_failed (job, ZHIVE_ERR_HANDLER, NULL);
    if (job->failed || job->completed || !(job->handler->flags & ZHIVE_ASYNC))
        s_job_finish (job);
    //  Else: an async job, pending until zhive_job_complete or zhive_job_fail
}

//  ---------------------------------------------------------------------
//  Messages from the broker

static void
s_on_task (zhive_worker_t *self)
{
    zhive_proto_t *in = self->in;
    s_log (self, "TASK ticket %" PRIu64 ": %s", in->id, in->function);
    if (self->in_flight >= self->concurrency) {
        s_reject (self, in->id, S_ERR_BUSY,
                  "worker '%s' has no free slot (concurrency %u); the broker sent too many tasks",
                  self->name, self->concurrency);
        return;
    }
    s_handler_t *handler = (s_handler_t *) zhashx_lookup (self->lookup, in->function);
    if (!handler) {
        s_reject (self, in->id, ZHIVE_ERR_UNKNOWN_FN, "worker '%s' has no function '%s'",
                  self->name, in->function);
        self->done++;
        return;
    }
    zhive_job_t *job = s_job_new (self, handler, in->id, &in->payload);
    in->has_payload = false;
    if (!job) {
        s_reject (self, in->id, ZHIVE_ERR_HANDLER, "worker '%s' is out of memory", self->name);
        self->done++;
        return;
    }
    s_job_start (job);
}

static int
s_on_broker (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    zhive_proto_t *in = self->in;
    int rc = zhive_proto_recv (in, sock, ZMQ_DONTWAIT);
    if (rc == -2)
        s_error (self, "dropped a malformed message from the broker: %s", in->error);
    else if (rc == 0) {
        switch (in->command) {
            case ZHIVE_TASK: s_on_task (self); break;
            case ZHIVE_PING:
                self->out->command = ZHIVE_PONG;
                s_send (self);
                break;
            case ZHIVE_PONG: break;
            case ZHIVE_BYE:
                s_error (self, "the broker said BYE: %s", in->message ? in->message : "");
                self->failed = true;
                return -1;
            default:
                s_error (self, "dropped %s: not a command a broker sends to a worker",
                         zhive_proto_command_name (in->command));
                break;
        }
    }
    return self->stopping ? -1 : 0;
}

//  Connection events of the dealer: READY again after a reconnect
static int
s_on_monitor (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    zhive_worker_t *self = (zhive_worker_t *) arg;
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        return 0;
    zframe_t *frame = zmsg_first (msg);
    if (frame && zframe_size (frame) >= sizeof (uint16_t)) {
        uint16_t event;
        memcpy (&event, zframe_data (frame), sizeof event);
        if (event == ZMQ_EVENT_DISCONNECTED) {
            s_log (self, "lost the broker; reconnecting");
            self->disconnected = true;
        }
        else if (event == ZMQ_EVENT_CONNECTED && self->disconnected) {
            s_log (self, "reconnected to the broker");
            self->disconnected = false;
            s_send_ready (self);
        }
    }
    zmsg_destroy (&msg);
    return self->stopping ? -1 : 0;
}

static int
s_on_stop_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    (void) arg;
    return -1;
}

//  ---------------------------------------------------------------------

zhive_worker_t *
zhive_worker_new (const char *endpoint)
{
    if (!endpoint || !*endpoint) {
        errno = EINVAL;
        return NULL;
    }
    zhive_worker_t *self = (zhive_worker_t *) calloc (1, sizeof (zhive_worker_t));
    if (!self)
        return NULL;
    self->concurrency = S_CONCURRENCY;
    char host [ZHIVE_NAME_MAX + 1] = "";
    if (gethostname (host, sizeof host - 1) || !*host)
        snprintf (host, sizeof host, "localhost");
    zhive_proto_set_name (self->host, host);
    char name [ZHIVE_NAME_MAX + 32];
    snprintf (name, sizeof name, "%s:%d", self->host, (int) getpid ());
    zhive_proto_set_name (self->name, name);

    self->loop = zloop_new ();
    self->in = zhive_proto_new ();
    self->out = zhive_proto_new ();
    self->lookup = zhashx_new ();
    self->plugins = zlistx_new ();
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->loop || !self->in || !self->out || !self->lookup || !self->plugins ||
        !self->dealer) {
        zhive_worker_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    zsock_set_sndhwm (self->dealer, S_SNDHWM);
    zsock_set_maxmsgsize (self->dealer, ZHIVE_MESSAGE_SIZE_MAX);
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_linger (self->dealer, S_LINGER_MS);
    //  libzmq answers these itself; a dead broker host then shows up as a
    //  disconnect, and the reconnect sends READY again
    zsock_set_heartbeat_ivl (self->dealer, S_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (self->dealer, S_HEARTBEAT_TTL);

    //  Watch the connection before making it, so no event is missed. The
    //  name must be unique: a closed socket's inproc name lingers a while
    zuuid_t *uuid = zuuid_new ();
    char monitor [80] = "";
    if (uuid)
        snprintf (monitor, sizeof monitor, "inproc://zhive-worker-monitor-%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    if (*monitor && zmq_socket_monitor (zsock_resolve (self->dealer), monitor,
                                        ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED) == 0)
        self->monitor = zsock_new_pair (monitor);    //  connects: '>' is the default
    if (!self->monitor) {
        zhive_worker_destroy (&self);
        errno = ENOMEM;
        return NULL;
    }
    if (zsock_connect (self->dealer, "%s", endpoint)) {
        zhive_worker_destroy (&self);
        errno = EINVAL;
        return NULL;
    }
    return self;
}

void
zhive_worker_destroy (zhive_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_worker_t *self = *self_p;
    //  Jobs still pending: their timers and readers go with the loop
    while (self->jobs) {
        zhive_job_t *job = self->jobs;
        s_job_destroy (&job);
    }
    zloop_destroy (&self->loop);
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    zhive_proto_destroy (&self->in);
    zhive_proto_destroy (&self->out);
    zhashx_destroy (&self->lookup);
    for (size_t i = 0; i < self->handlers_count; i++) {
        free (self->handlers [i]->name);
        free (self->handlers [i]);
    }
    free (self->handlers);
    //  Plugin code is gone after this: nothing of theirs may run later
    if (self->plugins) {
        void *handle = zlistx_first (self->plugins);
        while (handle) {
            dlclose (handle);
            handle = zlistx_next (self->plugins);
        }
        zlistx_destroy (&self->plugins);
    }
    free (self);
    *self_p = NULL;
}

void
zhive_worker_set_concurrency (zhive_worker_t *self, int concurrency)
{
    if (concurrency < 1)
        concurrency = 1;
    if (concurrency > S_CONCURRENCY_MAX)
        concurrency = S_CONCURRENCY_MAX;
    self->concurrency = (uint32_t) concurrency;
}

void
zhive_worker_set_name (zhive_worker_t *self, const char *name)
{
    if (name && *name)
        zhive_proto_set_name (self->name, name);
}

void
zhive_worker_set_verbose (zhive_worker_t *self, bool verbose)
{
    self->verbose = verbose;
}

int
zhive_worker_register (zhive_worker_t *self, const char *function, zhive_handler_fn *handler,
                       void *state, int flags)
{
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX || !handler ||
        (flags != ZHIVE_SYNC && flags != ZHIVE_ASYNC)) {
        errno = EINVAL;
        return -1;
    }
    if (zhashx_lookup (self->lookup, function)) {
        errno = EEXIST;
        return -1;
    }
    if (self->handlers_count >= ZHIVE_FUNCTIONS_MAX) {
        errno = E2BIG;
        return -1;
    }
    s_handler_t **grown = (s_handler_t **) realloc (self->handlers, (self->handlers_count + 1) *
                                                                        sizeof (s_handler_t *));
    if (!grown)
        return -1;
    self->handlers = grown;
    s_handler_t *entry = (s_handler_t *) calloc (1, sizeof (s_handler_t));
    if (!entry)
        return -1;
    entry->name = strdup (function);
    if (!entry->name) {
        free (entry);
        return -1;
    }
    entry->fn = handler;
    entry->state = state;
    entry->flags = flags;
    self->handlers [self->handlers_count++] = entry;
    zhashx_insert (self->lookup, entry->name, entry);
    return 0;
}

int
zhive_worker_load (zhive_worker_t *self, const char *path, const char *args)
{
    if (!path || !*path) {
        fprintf (stderr, "zhive-worker: cannot load a plugin without a path\n");
        errno = EINVAL;
        return -1;
    }
    void *handle = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror ();
        fprintf (stderr, "zhive-worker: cannot load %s: %s\n", path, why ? why : "unknown error");
        errno = ENOENT;
        return -1;
    }
    dlerror ();
    zhive_plugin_init_fn *init = (zhive_plugin_init_fn *) dlsym (handle, ZHIVE_PLUGIN_INIT);
    if (!init) {
        fprintf (stderr, "zhive-worker: %s is not a zhive plugin: it has no %s function\n", path,
                 ZHIVE_PLUGIN_INIT);
        dlclose (handle);
        errno = EINVAL;
        return -1;
    }
    //  Keep the handle before init runs: handlers it registers point into it
    if (!zlistx_add_end (self->plugins, handle)) {
        dlclose (handle);
        errno = ENOMEM;
        return -1;
    }
    if (init (self, args ? args : "") != 0) {
        fprintf (stderr, "zhive-worker: plugin %s refused to initialise\n", path);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

int
zhive_worker_run (zhive_worker_t *self)
{
    if (self->started) {
        fprintf (stderr, "zhive-worker: a worker can run only once\n");
        errno = EINVAL;
        return -1;
    }
    self->started = true;
    if (self->handlers_count == 0) {
        s_error (self, "nothing to serve: no function is registered");
        errno = EINVAL;
        return -1;
    }
    if (zloop_reader (self->loop, self->dealer, s_on_broker, self) ||
        zloop_reader (self->loop, self->monitor, s_on_monitor, self)) {
        s_error (self, "cannot watch the broker socket");
        return -1;
    }
    zloop_reader_set_tolerant (self->loop, self->dealer);
    if (s_send_ready (self)) {
        zloop_reader_end (self->loop, self->dealer);
        zloop_reader_end (self->loop, self->monitor);
        return -1;
    }
    self->running = true;
    if (!self->stopping)
        zloop_start (self->loop);
    self->running = false;
    zloop_reader_end (self->loop, self->dealer);
    zloop_reader_end (self->loop, self->monitor);
    if (self->stop_timer) {
        zloop_timer_end (self->loop, self->stop_timer);
        self->stop_timer = 0;
    }
    if (self->failed)
        return -1;
    if (self->in_flight)
        s_log (self, "stopping: dropping %zu tasks in flight", self->in_flight);
    self->out->command = ZHIVE_BYE;
    zhive_proto_set_message (self->out, "stopping");
    s_send (self);
    s_log (self, "stopped after %" PRIu64 " tasks", self->done);
    return 0;
}

void
zhive_worker_stop (zhive_worker_t *self)
{
    self->stopping = true;
    //  A timer ends the loop even when the caller is not our reader (an
    //  async job's timer, an embedder's socket)
    if (self->running && !self->stop_timer) {
        int timer = zloop_timer (self->loop, 0, 1, s_on_stop_timer, self);
        self->stop_timer = timer > 0 ? timer : 0;
    }
}

zloop_t *
zhive_worker_loop (zhive_worker_t *self)
{
    return self->loop;
}

uint64_t
zhive_worker_done (zhive_worker_t *self)
{
    return self->done;
}

//  ---------------------------------------------------------------------
//  Jobs, as handlers see them

const char *
zhive_job_function (const zhive_job_t *self)
{
    return self->handler->name;
}

const msgpack_object *
zhive_job_args (const zhive_job_t *self)
{
    return &self->args.data;
}

size_t
zhive_job_argc (const zhive_job_t *self)
{
    return self->args.data.via.array.size;
}

const msgpack_object *
zhive_job_arg (const zhive_job_t *self, size_t index)
{
    if (index >= self->args.data.via.array.size)
        return NULL;
    return &self->args.data.via.array.ptr [index];
}

zloop_t *
zhive_job_loop (const zhive_job_t *self)
{
    return self->worker->loop;
}

zhive_worker_t *
zhive_job_worker (const zhive_job_t *self)
{
    return self->worker;
}

zhive_pack_t *
zhive_job_reply (zhive_job_t *self)
{
    if (!self->reply)
        self->reply = zhive_pack_new ();
    return self->reply;
}

void
zhive_job_set_data (zhive_job_t *self, void *data)
{
    self->data = data;
}

void *
zhive_job_data (const zhive_job_t *self)
{
    return self->data;
}

int
zhive_job_complete (zhive_job_t *self)
{
    int rc = s_job_reply_size (self) < 0 ? -1 : 0;
    if (self->in_handler)
        self->completed = true;    //  Answered when the handler returns
    else
        s_job_finish (self);
    return rc;
}

int
zhive_job_fail (zhive_job_t *self, const char *type, const char *format, ...)
{
    char *message = NULL;
    if (format) {
        va_list args;
        va_start (args, format);
        message = zsys_vprintf (format, args);
        va_end (args);
    }
    s_job_set_failed (self, type, message);
    if (!self->in_handler)
        s_job_finish (self);
    return -1;
}
