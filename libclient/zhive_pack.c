/*  =========================================================================
    zhive_pack - build msgpack values and read them; zhive_result

    The packer writes into a growable buffer owned by the zhive_pack_t.
    zhive_msgpack_skip walks one value over untrusted bytes without
    allocating: it is how the client splits a map's items and how the worker
    checks a task's arguments before unpacking them.
    =========================================================================
*/
#include <czmq.h>
#include "zhive_pack.h"
#include "zhive_result.h"
#include "zhive_private.h"
#include <time.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

struct _zhive_pack_t {
    char *data;               //  Packed bytes
    size_t size;              //  Bytes used
    size_t capacity;          //  Bytes allocated
    msgpack_packer packer;    //  msgpack-c packer writing into data
    bool failed;              //  A write ran out of memory
};

static int
s_write (void *arg, const char *buf, size_t len)
{
    zhive_pack_t *self = (zhive_pack_t *) arg;
    if (self->size + len > self->capacity) {
        size_t capacity = self->capacity ? self->capacity : 64;
        while (capacity < self->size + len)
            capacity *= 2;
        char *grown = (char *) realloc (self->data, capacity);
        if (!grown) {
            self->failed = true;
            return -1;
        }
        self->data = grown;
        self->capacity = capacity;
    }
    memcpy (self->data + self->size, buf, len);
    self->size += len;
    return 0;
}

zhive_pack_t *
zhive_pack_new (void)
{
    zhive_pack_t *self = (zhive_pack_t *) calloc (1, sizeof (zhive_pack_t));
    if (self)
        msgpack_packer_init (&self->packer, self, s_write);
    return self;
}

void
zhive_pack_destroy (zhive_pack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->data);
    free (*self_p);
    *self_p = NULL;
}

//  msgpack-c returns the write callback's result; map it to 0 / -1
static int
s_rc (int rc)
{
    return rc == 0 ? 0 : -1;
}

int
zhive_pack_nil (zhive_pack_t *self)
{
    return s_rc (msgpack_pack_nil (&self->packer));
}

int
zhive_pack_bool (zhive_pack_t *self, bool value)
{
    return s_rc (value ? msgpack_pack_true (&self->packer) : msgpack_pack_false (&self->packer));
}

int
zhive_pack_int (zhive_pack_t *self, int64_t value)
{
    return s_rc (msgpack_pack_int64 (&self->packer, value));
}

int
zhive_pack_uint (zhive_pack_t *self, uint64_t value)
{
    return s_rc (msgpack_pack_uint64 (&self->packer, value));
}

int
zhive_pack_double (zhive_pack_t *self, double value)
{
    return s_rc (msgpack_pack_double (&self->packer, value));
}

int
zhive_pack_str (zhive_pack_t *self, const char *value)
{
    if (!value)
        return zhive_pack_nil (self);
    return zhive_pack_strn (self, value, strlen (value));
}

int
zhive_pack_strn (zhive_pack_t *self, const char *value, size_t size)
{
    if (size > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (msgpack_pack_str (&self->packer, size))
        return -1;
    return s_rc (msgpack_pack_str_body (&self->packer, value, size));
}

int
zhive_pack_bytes (zhive_pack_t *self, const void *data, size_t size)
{
    if (size > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    if (msgpack_pack_bin (&self->packer, size))
        return -1;
    return s_rc (msgpack_pack_bin_body (&self->packer, data, size));
}

int
zhive_pack_array (zhive_pack_t *self, uint32_t count)
{
    return s_rc (msgpack_pack_array (&self->packer, count));
}

int
zhive_pack_map (zhive_pack_t *self, uint32_t count)
{
    return s_rc (msgpack_pack_map (&self->packer, count));
}

int
zhive_pack_object (zhive_pack_t *self, const msgpack_object *value)
{
    return s_rc (msgpack_pack_object (&self->packer, *value));
}

int
zhive_pack_raw (zhive_pack_t *self, const void *data, size_t size)
{
    const char *bytes = (const char *) data;
    size_t offset = 0;
    while (offset < size) {
        ssize_t length = zhive_msgpack_skip (bytes + offset, size - offset);
        if (length < 0) {
            errno = EPROTO;
            return -1;
        }
        offset += (size_t) length;
    }
    return s_write (self, bytes, size);
}

char *
zhive_pack_detach (zhive_pack_t *self, size_t *size)
{
    char *data = self->data;
    *size = self->size;
    self->data = NULL;
    self->size = self->capacity = 0;
    return data;
}

msgpack_packer *
zhive_pack_packer (zhive_pack_t *self)
{
    return &self->packer;
}

size_t
zhive_msgpack_array_header (const void *data, size_t size, size_t *count)
{
    const uint8_t *bytes = (const uint8_t *) data;
    if (size >= 1 && (bytes [0] & 0xf0) == 0x90) {
        *count = bytes [0] & 0x0f;
        return 1;
    }
    if (size >= 3 && bytes [0] == 0xdc) {
        *count = ((size_t) bytes [1] << 8) | bytes [2];
        return 3;
    }
    if (size >= 5 && bytes [0] == 0xdd) {
        *count = ((size_t) bytes [1] << 24) | ((size_t) bytes [2] << 16) |
                 ((size_t) bytes [3] << 8) | bytes [4];
        return 5;
    }
    return 0;
}

const char *
zhive_pack_data (const zhive_pack_t *self)
{
    return self->data;
}

size_t
zhive_pack_size (const zhive_pack_t *self)
{
    return self->size;
}

void
zhive_pack_reset (zhive_pack_t *self)
{
    self->size = 0;
    self->failed = false;
}

//  ---------------------------------------------------------------------
//  Value readers

int
zhive_value_int (const msgpack_object *value, int64_t *out)
{
    if (!value)
        return -1;
    if (value->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (value->via.u64 > INT64_MAX)
            return -1;
        *out = (int64_t) value->via.u64;
        return 0;
    }
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = value->via.i64;
        return 0;
    }
    return -1;
}

int
zhive_value_double (const msgpack_object *value, double *out)
{
    if (!value)
        return -1;
    switch (value->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: *out = value->via.f64; return 0;
        case MSGPACK_OBJECT_POSITIVE_INTEGER: *out = (double) value->via.u64; return 0;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: *out = (double) value->via.i64; return 0;
        default: return -1;
    }
}

int
zhive_value_bool (const msgpack_object *value, bool *out)
{
    if (!value || value->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    *out = value->via.boolean;
    return 0;
}

int
zhive_value_str (const msgpack_object *value, const char **ptr, size_t *size)
{
    if (!value)
        return -1;
    if (value->type == MSGPACK_OBJECT_STR) {
        *ptr = value->via.str.ptr;
        *size = value->via.str.size;
        return 0;
    }
    if (value->type == MSGPACK_OBJECT_BIN) {
        *ptr = value->via.bin.ptr;
        *size = value->via.bin.size;
        return 0;
    }
    return -1;
}

bool
zhive_value_is_nil (const msgpack_object *value)
{
    return !value || value->type == MSGPACK_OBJECT_NIL;
}

size_t
zhive_value_len (const msgpack_object *value)
{
    if (!value)
        return 0;
    if (value->type == MSGPACK_OBJECT_ARRAY)
        return value->via.array.size;
    if (value->type == MSGPACK_OBJECT_MAP)
        return value->via.map.size;
    return 0;
}

const msgpack_object *
zhive_value_at (const msgpack_object *value, size_t index)
{
    if (!value || value->type != MSGPACK_OBJECT_ARRAY || index >= value->via.array.size)
        return NULL;
    return &value->via.array.ptr [index];
}

const msgpack_object *
zhive_value_get (const msgpack_object *value, const char *key)
{
    if (!value || value->type != MSGPACK_OBJECT_MAP || !key)
        return NULL;
    size_t key_size = strlen (key);
    for (uint32_t i = 0; i < value->via.map.size; i++) {
        const msgpack_object *k = &value->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == key_size &&
            memcmp (k->via.str.ptr, key, key_size) == 0)
            return &value->via.map.ptr [i].val;
    }
    return NULL;
}

//  ---------------------------------------------------------------------
//  Walk one msgpack value without allocating. An explicit stack of the
//  values still owed by open containers bounds the nesting depth.

#define S_MAX_DEPTH 64

static uint64_t
s_be (const uint8_t *p, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | p [i];
    return value;
}

ssize_t
zhive_msgpack_skip (const void *data, size_t size)
{
    const uint8_t *start = (const uint8_t *) data;
    const uint8_t *p = start;
    const uint8_t *end = start + size;
    uint64_t owed [S_MAX_DEPTH];    //  Values still owed per open container
    int depth = 0;
    uint64_t pending = 1;    //  Values owed at the current level

    while (true) {
        if (pending == 0) {
            if (depth == 0)
                return p - start;
            pending = owed [--depth];
            continue;
        }
        pending--;
        if (p >= end)
            return -1;
        uint8_t tag = *p++;
        uint64_t skip = 0;        //  Bytes of body after the tag and length
        uint64_t children = 0;    //  Values inside a container
        int length_bytes = 0;     //  Size of a length field that follows
        int kind = 0;             //  0 scalar, 1 body of length, 2 array, 3 map

        if (tag <= 0x7f || tag >= 0xe0 || tag == 0xc0 || tag == 0xc2 || tag == 0xc3)
            ;
        else if ((tag & 0xe0) == 0xa0)
            skip = tag & 0x1f;
        else if ((tag & 0xf0) == 0x90) {
            children = tag & 0x0f;
            kind = 2;
        }
        else if ((tag & 0xf0) == 0x80) {
            children = tag & 0x0f;
            kind = 3;
        }
        else
            switch (tag) {
                case 0xcc:
                case 0xd0: skip = 1; break;
                case 0xcd:
                case 0xd1: skip = 2; break;
                case 0xca:
                case 0xce:
                case 0xd2: skip = 4; break;
                case 0xcb:
                case 0xcf:
                case 0xd3: skip = 8; break;
                case 0xd4: skip = 2; break;    //  fixext 1: type + 1
                case 0xd5: skip = 3; break;
                case 0xd6: skip = 5; break;
                case 0xd7: skip = 9; break;
                case 0xd8: skip = 17; break;
                case 0xc4:
                case 0xd9:
                    length_bytes = 1;
                    kind = 1;
                    break;
                case 0xc5:
                case 0xda:
                    length_bytes = 2;
                    kind = 1;
                    break;
                case 0xc6:
                case 0xdb:
                    length_bytes = 4;
                    kind = 1;
                    break;
                case 0xc7:
                    length_bytes = 1;
                    kind = 4;
                    break;    //  ext: length + type
                case 0xc8:
                    length_bytes = 2;
                    kind = 4;
                    break;
                case 0xc9:
                    length_bytes = 4;
                    kind = 4;
                    break;
                case 0xdc:
                    length_bytes = 2;
                    kind = 2;
                    break;
                case 0xdd:
                    length_bytes = 4;
                    kind = 2;
                    break;
                case 0xde:
                    length_bytes = 2;
                    kind = 3;
                    break;
                case 0xdf:
                    length_bytes = 4;
                    kind = 3;
                    break;
                default: return -1;    //  0xc1 is never used
            }
        if (length_bytes) {
            if ((size_t) (end - p) < (size_t) length_bytes)
                return -1;
            uint64_t length = s_be (p, length_bytes);
            p += length_bytes;
            if (kind == 1)
                skip = length;
            else if (kind == 4)
                skip = length + 1;
            else
                children = length;
        }
        if (skip > (uint64_t) (end - p))
            return -1;
        p += skip;
        if (kind == 2 || kind == 3) {
            if (kind == 3)
                children *= 2;
            //  Each child takes at least one byte: refuse impossible counts
            if (children > (uint64_t) (end - p))
                return -1;
            if (children) {
                if (depth == S_MAX_DEPTH)
                    return -1;
                owed [depth++] = pending;
                pending = children;
            }
        }
    }
}

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

zhive_result_t *
zhive_result_new_value (const void *data, size_t size)
{
    ssize_t length = zhive_msgpack_skip (data, size);
    if (length < 0 || (size_t) length != size)
        return zhive_result_new_error (ZHIVE_ERR_MALFORMED,
                                       "result is not exactly one msgpack value", "");
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
    ssize_t length = zhive_msgpack_skip (data, size);
    if (length < 0 || (size_t) length != size)
        return zhive_result_new_error (ZHIVE_ERR_MALFORMED,
                                       "result is not exactly one msgpack value", "");
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

int64_t
zhive_clock_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}
