/*  =========================================================================
    zhive_result - the answer to one task: a value, or an error
    =========================================================================
*/
#include <czmq.h>
#include "zhive_pack.h"
#include "zhive_result.h"
#include "zhive_private.h"
#include "zhive_reader.h"
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  zhive_result

struct _zhive_result_t {
    bool ok;                 //  True: data holds the value
    bool unpacked;           //  value and zone are valid (unpacked on first use)
    msgpack_zone zone;       //  Memory of the unpacked value
    msgpack_object value;    //  The unpacked value
    char *type;              //  Error type (NULL when ok)
    char *message;           //  Error message
    char *worker;            //  Worker that raised the error
    size_t index;            //  Position of the input in a map
    size_t size;             //  Size of the value's bytes
    const char *bytes;       //  The value's bytes: inline, or in frame
    zmq_msg_t frame;         //  A large value's frame, kept as received
    bool has_frame;          //  frame holds the value
    char data [];            //  A small value's bytes, in the same block
};

zhive_result_t *
zhive_result_new_error (const char *type, const char *message, const char *worker)
{
    zhive_result_t *self = (zhive_result_t *) calloc (1, sizeof (zhive_result_t));
    if (!self)
        return NULL;
    self->type = strdup (type ? type : ZHIVE_ERR_HANDLER);
    self->message = strdup (message ? message : "");
    self->worker = strdup (worker ? worker : "");
    if (!self->type || !self->message || !self->worker) {
        zhive_result_destroy (&self);
        return NULL;
    }
    return self;
}

//  Check that bytes can be a result's value: exactly one valid msgpack
//  value that unpacks within ZHIVE_UNPACK_MAX, so an ok result always has
//  one. Returns true, or false with the error result in *error (NULL if
//  out of memory)
static bool
s_value_fits (const void *data, size_t size, zhive_result_t **error)
{
    size_t objects, bytes;
    ssize_t length = zhive_msgpack_measure (data, size, &objects, &bytes);
    if (length < 0 || (size_t) length != size) {
        *error = zhive_result_new_error (ZHIVE_ERR_MALFORMED,
                                         "result is not exactly one msgpack value", "");
        return false;
    }
    if (bytes > ZHIVE_UNPACK_MAX) {
        char message [160];
        snprintf (message, sizeof message,
                  "result would unpack to %zu bytes (%zu values), more than the limit of %d "
                  "bytes (ZHIVE_UNPACK_MAX)",
                  bytes, objects, ZHIVE_UNPACK_MAX);
        *error = zhive_result_new_error (ZHIVE_ERR_TOO_LARGE, message, "");
        return false;
    }
    return true;
}

zhive_result_t *
zhive_result_new_value (const void *data, size_t size)
{
    zhive_result_t *error;
    if (!s_value_fits (data, size, &error))
        return error;
    //  One allocation per result: results of a big map are many and small.
    //  The value is unpacked only when asked for.
    zhive_result_t *self = (zhive_result_t *) malloc (sizeof (zhive_result_t) + size);
    if (!self)
        return NULL;
    self->ok = true;
    self->unpacked = false;
    self->type = self->message = self->worker = NULL;
    self->index = 0;
    self->size = size;
    self->has_frame = false;
    memcpy (self->data, data, size);
    self->bytes = self->data;
    return self;
}

zhive_result_t *
zhive_result_new_frame (zmq_msg_t *frame)
{
    const char *data = (const char *) zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame);
    if (size < ZHIVE_ZERO_COPY_MIN)
        return zhive_result_new_value (data, size);
    zhive_result_t *error;
    if (!s_value_fits (data, size, &error))
        return error;
    //  Large: keep the frame itself rather than copy its bytes
    zhive_result_t *self = (zhive_result_t *) calloc (1, sizeof (zhive_result_t));
    if (!self)
        return NULL;
    self->ok = true;
    self->size = size;
    zmq_msg_init (&self->frame);
    zmq_msg_move (&self->frame, frame);
    self->has_frame = true;
    self->bytes = (const char *) zmq_msg_data (&self->frame);
    return self;
}

void
zhive_result_destroy (zhive_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_result_t *self = *self_p;
    if (self->unpacked)
        msgpack_zone_destroy (&self->zone);
    if (self->has_frame)
        zmq_msg_close (&self->frame);
    free (self->type);
    free (self->message);
    free (self->worker);
    free (self);
    *self_p = NULL;
}

bool
zhive_result_ok (const zhive_result_t *self)
{
    return self && self->ok;
}

const msgpack_object *
zhive_result_value (const zhive_result_t *self)
{
    if (!self || !self->ok)
        return NULL;
    if (!self->unpacked) {
        //  Unpacking fills a cache: the result is logically unchanged
        zhive_result_t *cache = (zhive_result_t *) self;
        msgpack_zone_init (&cache->zone, 256);
        size_t offset = 0;
        if (msgpack_unpack (cache->bytes, cache->size, &offset, &cache->zone, &cache->value) !=
            MSGPACK_UNPACK_SUCCESS) {
            msgpack_zone_destroy (&cache->zone);
            return NULL;
        }
        cache->unpacked = true;
    }
    return &self->value;
}

const char *
zhive_result_data (const zhive_result_t *self, size_t *size)
{
    if (!self || !self->ok)
        return NULL;
    if (size)
        *size = self->size;
    return self->bytes;
}

const char *
zhive_result_error_type (const zhive_result_t *self)
{
    return self && self->type ? self->type : "";
}

const char *
zhive_result_error_message (const zhive_result_t *self)
{
    return self && self->message ? self->message : "";
}

const char *
zhive_result_error_worker (const zhive_result_t *self)
{
    return self && self->worker ? self->worker : "";
}

size_t
zhive_result_index (const zhive_result_t *self)
{
    return self ? self->index : 0;
}

void
zhive_result_set_index (zhive_result_t *self, size_t index)
{
    self->index = index;
}
