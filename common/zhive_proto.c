/*  =========================================================================
    zhive_proto - the one wire codec of zhive

    The header frame is a short msgpack array. It is decoded by a small
    cursor reader below that checks every length against what is left, so
    nothing from the network is trusted; it is encoded with msgpack-c's
    packer into a reusable buffer (no allocation per message once warm).
    =========================================================================
*/
#include "zhive_proto.h"
#include "zhive_private.h"
#include "zhive_reader.h"
#include <msgpack.h>

static const uint8_t s_signature [3] = { 'Z', 'H', 'V' };

//  Reads a chunk size: 0 (one task) or 1..ZHIVE_CHUNK_MAX items
static int
s_read_chunk (zhive_reader_t *cur, uint32_t *chunk)
{
    uint64_t value;
    if (zhive_reader_uint (cur, &value) || value > ZHIVE_CHUNK_MAX)
        return -1;
    *chunk = (uint32_t) value;
    return 0;
}

//  ---------------------------------------------------------------------

typedef struct {
    zhive_proto_t public_part;    //  What callers see
    zhive_pack_t *header;         //  Reused encode buffer
} s_proto_full_t;

zhive_proto_t *
zhive_proto_new (void)
{
    s_proto_full_t *full = (s_proto_full_t *) calloc (1, sizeof (s_proto_full_t));
    if (!full)
        return NULL;
    full->header = zhive_pack_new ();
    if (!full->header) {
        free (full);
        return NULL;
    }
    zmq_msg_init (&full->public_part.payload);
    full->public_part.timeout_ms = -1;
    full->public_part.retries = -1;
    return &full->public_part;
}

static void
s_free_functions (zhive_proto_t *self)
{
    for (size_t i = 0; i < self->functions_count; i++)
        free (self->functions [i]);
    free (self->functions);
    self->functions = NULL;
    self->functions_count = 0;
}

void
zhive_proto_destroy (zhive_proto_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_proto_full_t *full = (s_proto_full_t *) *self_p;
    zhive_proto_t *self = &full->public_part;
    zmq_msg_close (&self->payload);
    free (self->message);
    s_free_functions (self);
    zhive_pack_destroy (&full->header);
    free (full);
    *self_p = NULL;
}

const char *
zhive_proto_command_name (int command)
{
    switch (command) {
        case ZHIVE_PING: return "PING";
        case ZHIVE_PONG: return "PONG";
        case ZHIVE_HEARTBEAT: return "HEARTBEAT";
        case ZHIVE_DRAINING: return "DRAINING";
        case ZHIVE_WELCOME: return "WELCOME";
        case ZHIVE_DRAINED: return "DRAINED";
        case ZHIVE_SUBMIT: return "SUBMIT";
        case ZHIVE_CANCEL: return "CANCEL";
        case ZHIVE_STATUS: return "STATUS";
        case ZHIVE_RESULT: return "RESULT";
        case ZHIVE_ERROR: return "ERROR";
        case ZHIVE_STATUS_REPLY: return "STATUS_REPLY";
        case ZHIVE_READY: return "READY";
        case ZHIVE_DONE: return "DONE";
        case ZHIVE_FAILED: return "FAILED";
        case ZHIVE_TASK: return "TASK";
        case ZHIVE_BYE: return "BYE";
        default: return "?";
    }
}

//  Which commands carry a payload frame (required) and none else may
static bool
s_has_payload (int command)
{
    return command == ZHIVE_SUBMIT || command == ZHIVE_RESULT || command == ZHIVE_DONE ||
           command == ZHIVE_TASK || command == ZHIVE_STATUS_REPLY;
}

void
zhive_proto_set_name (char *field, const char *value)
{
    if (!value)
        value = "";
    size_t size = strlen (value);
    if (size > ZHIVE_NAME_MAX)
        size = ZHIVE_NAME_MAX;
    memcpy (field, value, size);
    field [size] = 0;
}

void
zhive_proto_set_message (zhive_proto_t *self, const char *message)
{
    if (!message)
        message = "";
    size_t size = strlen (message);
    if (size > ZHIVE_MESSAGE_MAX)
        size = ZHIVE_MESSAGE_MAX;
    char *copy = (char *) malloc (size + 1);
    if (!copy)
        return;
    memcpy (copy, message, size);
    copy [size] = 0;
    free (self->message);
    self->message = copy;
}

int
zhive_proto_set_payload (zhive_proto_t *self, const void *data, size_t size)
{
    zmq_msg_close (&self->payload);
    if (zmq_msg_init_size (&self->payload, size)) {
        zmq_msg_init (&self->payload);
        self->has_payload = false;
        return -1;
    }
    if (size)
        memcpy (zmq_msg_data (&self->payload), data, size);
    self->has_payload = true;
    return 0;
}

void
zhive_proto_move_payload (zhive_proto_t *self, zmq_msg_t *source)
{
    zmq_msg_move (&self->payload, source);
    self->has_payload = true;
}

void
zhive_proto_clear_payload (zhive_proto_t *self)
{
    zmq_msg_close (&self->payload);
    zmq_msg_init (&self->payload);
    self->has_payload = false;
}

//  ---------------------------------------------------------------------
//  Decoding

static int
s_malformed (zhive_proto_t *self, const char *why)
{
    snprintf (self->error, sizeof self->error, "%s", why);
    return -2;
}

//  Discards the rest of a multipart message
static void
s_drain (void *handle)
{
    int more = 1;
    size_t more_size = sizeof more;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    while (zmq_getsockopt (handle, ZMQ_RCVMORE, &more, &more_size) == 0 && more) {
        if (zmq_msg_recv (&frame, handle, 0) < 0)
            break;
    }
    zmq_msg_close (&frame);
}

//  The sender's address from a frame's metadata (TCP, IPC), once
static void
s_address (zhive_proto_t *self, zmq_msg_t *frame)
{
    const char *address = self->peer_address [0] ? NULL : zmq_msg_gets (frame, "Peer-Address");
    if (address)
        snprintf (self->peer_address, sizeof self->peer_address, "%s", address);
}

//  The start of a bad frame for the log: up to ZHIVE_SAMPLE_MAX bytes,
//  printable ASCII as is, every other byte (and the backslash) as \xNN
static void
s_sample (zhive_proto_t *self, zmq_msg_t *frame)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame);
    if (size > ZHIVE_SAMPLE_MAX)
        size = ZHIVE_SAMPLE_MAX;
    char *to = self->sample;
    for (size_t i = 0; i < size; i++) {
        if (data [i] >= 0x20 && data [i] < 0x7f && data [i] != '\\')
            *to++ = (char) data [i];
        else
            to += sprintf (to, "\\x%02x", data [i]);
    }
    *to = 0;
}

static int
s_decode_header (zhive_proto_t *self, const uint8_t *data, size_t size)
{
    zhive_reader_t cur;
    zhive_reader_init (&cur, data, size);
    size_t fields;
    if (zhive_reader_array (&cur, &fields))
        return s_malformed (self, "header is not a msgpack array");
    //  Readers only look at the fields they know; a newer peer may add more
    switch (self->command) {
        case ZHIVE_PING:
        case ZHIVE_PONG:
        case ZHIVE_HEARTBEAT:
        case ZHIVE_DRAINING:
        case ZHIVE_DRAINED: break;
        case ZHIVE_SUBMIT:
            if (fields < 4 || zhive_reader_uint (&cur, &self->id) ||
                zhive_reader_str (&cur, self->function, ZHIVE_NAME_MAX) ||
                zhive_reader_int (&cur, &self->timeout_ms, NULL) ||
                zhive_reader_int (&cur, &self->retries, NULL))
                return s_malformed (self, "SUBMIT needs [id, function, timeout_ms, retries]");
            if (self->function [0] == 0)
                return s_malformed (self, "SUBMIT has an empty function name");
            if (fields >= 5 && s_read_chunk (&cur, &self->chunk))
                return s_malformed (self, "SUBMIT chunk must be an integer 0..1000000");
            break;
        case ZHIVE_CANCEL:
        case ZHIVE_STATUS:
        case ZHIVE_RESULT:
        case ZHIVE_STATUS_REPLY:
        case ZHIVE_WELCOME:
        case ZHIVE_DONE:
            if (fields < 1 || zhive_reader_uint (&cur, &self->id))
                return s_malformed (self, "header needs [id]");
            break;
        case ZHIVE_ERROR:
            if (fields < 4 || zhive_reader_uint (&cur, &self->id) ||
                zhive_reader_str (&cur, self->type, ZHIVE_NAME_MAX) ||
                zhive_reader_str_alloc (&cur, &self->message, ZHIVE_MESSAGE_MAX) ||
                zhive_reader_str (&cur, self->worker, ZHIVE_NAME_MAX))
                return s_malformed (self, "ERROR needs [id, type, message, worker]");
            break;
        case ZHIVE_FAILED:
            if (fields < 3 || zhive_reader_uint (&cur, &self->id) ||
                zhive_reader_str (&cur, self->type, ZHIVE_NAME_MAX) ||
                zhive_reader_str_alloc (&cur, &self->message, ZHIVE_MESSAGE_MAX))
                return s_malformed (self, "FAILED needs [ticket, type, message]");
            break;
        case ZHIVE_TASK:
            if (fields < 2 || zhive_reader_uint (&cur, &self->id) ||
                zhive_reader_str (&cur, self->function, ZHIVE_NAME_MAX))
                return s_malformed (self, "TASK needs [ticket, function, timeout_ms]");
            if (fields >= 3 && zhive_reader_int (&cur, &self->timeout_ms, NULL))
                return s_malformed (self, "TASK timeout_ms must be an integer");
            if (fields >= 4 && s_read_chunk (&cur, &self->chunk))
                return s_malformed (self, "TASK chunk must be an integer 0..1000000");
            break;
        case ZHIVE_BYE:
            if (fields < 1 || zhive_reader_str_alloc (&cur, &self->message, ZHIVE_MESSAGE_MAX))
                return s_malformed (self, "BYE needs [reason]");
            break;
        case ZHIVE_READY: {
            uint64_t pid, concurrency;
            size_t count;
            if (fields < 5 || zhive_reader_str (&cur, self->worker, ZHIVE_NAME_MAX) ||
                zhive_reader_str (&cur, self->host, ZHIVE_NAME_MAX) ||
                zhive_reader_uint (&cur, &pid) || zhive_reader_uint (&cur, &concurrency) ||
                zhive_reader_array (&cur, &count))
                return s_malformed (self,
                                    "READY needs [name, host, pid, concurrency, [functions]]");
            if (concurrency == 0 || concurrency > 1000000)
                return s_malformed (self, "READY concurrency must be 1..1000000");
            if (count > ZHIVE_FUNCTIONS_MAX)
                return s_malformed (self, "READY offers too many functions");
            self->pid = pid;
            self->concurrency = (uint32_t) concurrency;
            self->functions = (char **) calloc (count ? count : 1, sizeof (char *));
            if (!self->functions)
                return s_malformed (self, "out of memory");
            for (size_t i = 0; i < count; i++) {
                const char *ptr;
                size_t name_size;
                if (zhive_reader_str_ref (&cur, &ptr, &name_size) || name_size == 0 ||
                    name_size > ZHIVE_NAME_MAX || memchr (ptr, 0, name_size))
                    return s_malformed (self, "READY function names must be 1..255 byte strings");
                self->functions [i] = strndup (ptr, name_size);
                if (!self->functions [i])
                    return s_malformed (self, "out of memory");
                self->functions_count++;
            }
            if (fields >= 6 && zhive_reader_uint (&cur, &self->max_tasks))
                return s_malformed (self, "READY max_tasks must be an unsigned integer");
            if (fields >= 7 && zhive_reader_str (&cur, self->token, ZHIVE_TOKEN_MAX))
                return s_malformed (self, "READY token must be a string of up to 64 bytes");
            break;
        }
        default: return s_malformed (self, "unknown command");
    }
    return 0;
}

//  Forgets what the last message left
static void
s_reset (zhive_proto_t *self)
{
    self->routing_size = 0;
    self->command = 0;
    self->error [0] = 0;
    self->function [0] = 0;
    self->type [0] = 0;
    self->worker [0] = 0;
    self->timeout_ms = -1;
    self->retries = -1;
    self->max_tasks = 0;
    self->chunk = 0;
    self->token [0] = 0;
    self->peer_address [0] = 0;
    self->sample [0] = 0;
    s_free_functions (self);
    zhive_proto_clear_payload (self);
}

//  Decodes the frames after the routing id; the routing fields are left
//  as they are
static int
s_decode (zhive_proto_t *self, zmq_msg_t *frames, size_t count)
{
    //  Frame 1: signature, version, command
    if (count == 0)
        return s_malformed (self, "message has no frames after the routing id");
    const uint8_t *sig = (const uint8_t *) zmq_msg_data (&frames [0]);
    if (zmq_msg_size (&frames [0]) != 5 || memcmp (sig, s_signature, 3) != 0)
        return s_malformed (self, "first frame is not a zhive signature");
    if (sig [3] != ZHIVE_PROTO_VERSION)
        return s_malformed (self, "unsupported protocol version");
    self->command = sig [4];

    //  Frame 2: header
    if (count < 2)
        return s_malformed (self, "header frame is missing");
    if (zmq_msg_size (&frames [1]) > ZHIVE_HEADER_MAX)
        return s_malformed (self, "header frame is too large");
    int rc = s_decode_header (self, (const uint8_t *) zmq_msg_data (&frames [1]),
                              zmq_msg_size (&frames [1]));
    if (rc)
        return rc;

    //  Frame 3: payload, moved out untouched
    if (!s_has_payload (self->command))
        return count > 2 ? s_malformed (self, "too many frames") : 0;
    if (count < 3)
        return s_malformed (self, "payload frame is missing");
    zhive_proto_move_payload (self, &frames [2]);
    if (count > 3)
        return s_malformed (self, "too many frames");
    if (zmq_msg_size (&self->payload) == 0)
        return s_malformed (self, "payload frame is empty");
    return 0;
}

int
zhive_proto_decode (zhive_proto_t *self, zmq_msg_t *frames, size_t count)
{
    s_reset (self);
    int rc = s_decode (self, frames, count);
    if (rc)
        zhive_proto_clear_payload (self);
    return rc;
}

//  Which frame a malformed message's sample shows: the signature when it is
//  bad or alone, the payload when the payload is what is wrong, else the header
static size_t
s_bad_frame (const zhive_proto_t *self, size_t count)
{
    if (count == 1 || strstr (self->error, "signature") || strstr (self->error, "version"))
        return 0;
    if (count > 2 && strstr (self->error, "payload"))
        return 2;
    return 1;
}

int
zhive_proto_recv (zhive_proto_t *self, zsock_t *sock, int flags)
{
    void *handle = zsock_resolve (sock);
    bool is_router = zsock_type (sock) == ZMQ_ROUTER;
    s_reset (self);

    //  The routing id, then up to four frames: a fourth says "too many"
    zmq_msg_t frames [4];
    size_t count = 0;
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&frame, handle, flags) < 0) {
        zmq_msg_close (&frame);
        return -1;
    }
    bool more = true;
    if (is_router) {
        size_t size = zmq_msg_size (&frame);
        if (size > sizeof self->routing)
            size = sizeof self->routing;
        memcpy (self->routing, zmq_msg_data (&frame), size);
        self->routing_size = size;
        more = zmq_msg_more (&frame);
    }
    else {
        zmq_msg_init (&frames [count]);
        zmq_msg_move (&frames [count++], &frame);
        more = zmq_msg_more (&frames [0]);
    }
    int rc = 0;
    while (more && count < 4) {
        zmq_msg_init (&frames [count]);
        if (zmq_msg_recv (&frames [count], handle, 0) < 0) {
            zmq_msg_close (&frames [count]);
            rc = -1;
            break;
        }
        more = zmq_msg_more (&frames [count++]);
    }
    if (rc == 0) {
        //  The peer's address for the log (a routing id frame has no metadata)
        if (count > 0)
            s_address (self, &frames [0]);
        rc = s_decode (self, frames, count);
        if (more)
            s_drain (handle);    //  Too many frames: the rest of the message
        if (rc == -2 && count > 0)
            s_sample (self, &frames [s_bad_frame (self, count)]);
        if (rc != 0)
            zhive_proto_clear_payload (self);
    }
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
    zmq_msg_close (&frame);
    return rc;
}

//  ---------------------------------------------------------------------
//  Encoding

static void
s_pack_str (msgpack_packer *pk, const char *value)
{
    size_t size = value ? strlen (value) : 0;
    msgpack_pack_str (pk, size);
    msgpack_pack_str_body (pk, value ? value : "", size);
}

static int
s_send_frame (void *handle, const void *data, size_t size, int flags)
{
    return zmq_send (handle, data, size, flags) < 0 ? -1 : 0;
}

int
zhive_proto_encode (zhive_proto_t *self, uint8_t signature [5], const void **header,
                    size_t *header_size)
{
    s_proto_full_t *full = (s_proto_full_t *) self;
    zhive_pack_reset (full->header);
    msgpack_packer *pk = zhive_pack_packer (full->header);

    switch (self->command) {
        case ZHIVE_PING:
        case ZHIVE_PONG:
        case ZHIVE_HEARTBEAT:
        case ZHIVE_DRAINING:
        case ZHIVE_DRAINED: msgpack_pack_array (pk, 0); break;
        case ZHIVE_SUBMIT:
            msgpack_pack_array (pk, 5);
            msgpack_pack_uint64 (pk, self->id);
            s_pack_str (pk, self->function);
            msgpack_pack_int64 (pk, self->timeout_ms);
            msgpack_pack_int64 (pk, self->retries);
            msgpack_pack_uint32 (pk, self->chunk);
            break;
        case ZHIVE_CANCEL:
        case ZHIVE_STATUS:
        case ZHIVE_RESULT:
        case ZHIVE_STATUS_REPLY:
        case ZHIVE_WELCOME:
        case ZHIVE_DONE:
            msgpack_pack_array (pk, 1);
            msgpack_pack_uint64 (pk, self->id);
            break;
        case ZHIVE_ERROR:
            msgpack_pack_array (pk, 4);
            msgpack_pack_uint64 (pk, self->id);
            s_pack_str (pk, self->type);
            s_pack_str (pk, self->message);
            s_pack_str (pk, self->worker);
            break;
        case ZHIVE_FAILED:
            msgpack_pack_array (pk, 3);
            msgpack_pack_uint64 (pk, self->id);
            s_pack_str (pk, self->type);
            s_pack_str (pk, self->message);
            break;
        case ZHIVE_TASK:
            msgpack_pack_array (pk, 4);
            msgpack_pack_uint64 (pk, self->id);
            s_pack_str (pk, self->function);
            msgpack_pack_int64 (pk, self->timeout_ms);
            msgpack_pack_uint32 (pk, self->chunk);
            break;
        case ZHIVE_BYE:
            msgpack_pack_array (pk, 1);
            s_pack_str (pk, self->message);
            break;
        case ZHIVE_READY:
            msgpack_pack_array (pk, self->token [0] ? 7 : 6);
            s_pack_str (pk, self->worker);
            s_pack_str (pk, self->host);
            msgpack_pack_uint64 (pk, self->pid);
            msgpack_pack_uint32 (pk, self->concurrency);
            msgpack_pack_array (pk, (uint32_t) self->functions_count);
            for (size_t i = 0; i < self->functions_count; i++)
                s_pack_str (pk, self->functions [i]);
            msgpack_pack_uint64 (pk, self->max_tasks);
            if (self->token [0])
                s_pack_str (pk, self->token);
            break;
        default: errno = EINVAL; return -1;
    }
    if (s_has_payload (self->command) && !self->has_payload) {
        errno = EINVAL;    //  Programming error: caller forgot the payload
        return -1;
    }
    memcpy (signature, s_signature, sizeof s_signature);
    signature [3] = ZHIVE_PROTO_VERSION;
    signature [4] = (uint8_t) self->command;
    *header = zhive_pack_data (full->header);
    *header_size = zhive_pack_size (full->header);
    return 0;
}

int
zhive_proto_send (zhive_proto_t *self, zsock_t *sock)
{
    void *handle = zsock_resolve (sock);
    uint8_t sig [5];
    const void *header;
    size_t header_size;
    if (zhive_proto_encode (self, sig, &header, &header_size))
        return -1;
    bool payload = s_has_payload (self->command);
    if (self->routing_size && s_send_frame (handle, self->routing, self->routing_size, ZMQ_SNDMORE))
        return -1;
    if (s_send_frame (handle, sig, sizeof sig, ZMQ_SNDMORE) ||
        s_send_frame (handle, header, header_size, payload ? ZMQ_SNDMORE : 0))
        return -1;
    if (payload) {
        if (zmq_msg_send (&self->payload, handle, 0) < 0)
            return -1;
        self->has_payload = false;    //  zmq_msg_send left it empty
    }
    return 0;
}
