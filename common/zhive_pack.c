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
};

static int
s_write (void *arg, const char *buf, size_t len)
{
    zhive_pack_t *self = (zhive_pack_t *) arg;
    if (len == 0)
        return 0;    //  An empty str or bin: buf may be NULL
    if (self->size + len > self->capacity) {
        size_t capacity = self->capacity ? self->capacity : 64;
        while (capacity < self->size + len)
            capacity *= 2;
        char *grown = (char *) realloc (self->data, capacity);
        if (!grown)
            return -1;    //  The call that wrote fails: each returns it
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

//  ---------------------------------------------------------------------
//  Containers whose size is known at the end: a 5-byte array32 / map32
//  header is reserved at begin; end counts the values packed after it and
//  writes the shortest header in its place, moving them down.

#define S_RESERVED 5    //  Bytes of an array32 / map32 header

//  Reserves a header of type tag (0xdd array32, 0xdf map32)
static ssize_t
s_begin (zhive_pack_t *self, uint8_t tag)
{
    static const char zeros [S_RESERVED - 1] = { 0 };
    size_t handle = self->size;
    if (s_write (self, (const char *) &tag, 1) || s_write (self, zeros, sizeof zeros)) {
        self->size = handle;
        return -1;
    }
    return (ssize_t) handle;
}

//  Writes the header reserved at handle for what follows it
static int
s_end (zhive_pack_t *self, ssize_t handle, uint8_t tag)
{
    static const char zeros [S_RESERVED - 1] = { 0 };
    size_t at = (size_t) handle;
    if (handle < 0 || at + S_RESERVED > self->size || (uint8_t) self->data [at] != tag ||
        memcmp (self->data + at + 1, zeros, sizeof zeros)) {
        errno = EINVAL;
        return -1;
    }
    //  Count the values after the header
    const char *body = self->data + at + S_RESERVED;
    size_t size = self->size - at - S_RESERVED;
    uint64_t values = 0;
    for (size_t offset = 0; offset < size; values++) {
        ssize_t length = zhive_msgpack_skip (body + offset, size - offset);
        if (length < 0) {
            errno = EPROTO;
            return -1;
        }
        offset += (size_t) length;
    }
    bool map = tag == 0xdf;
    if ((map && values % 2) || (map ? values / 2 : values) > UINT32_MAX) {
        errno = EINVAL;
        return -1;
    }
    uint32_t count = (uint32_t) (map ? values / 2 : values);
    uint8_t header [S_RESERVED];
    size_t header_size;
    if (count < 16) {
        header [0] = (uint8_t) ((map ? 0x80 : 0x90) | count);
        header_size = 1;
    }
    else if (count <= 0xffff) {
        header [0] = map ? 0xde : 0xdc;
        header [1] = (uint8_t) (count >> 8);
        header [2] = (uint8_t) count;
        header_size = 3;
    }
    else {
        header [0] = tag;
        for (int i = 0; i < 4; i++)
            header [1 + i] = (uint8_t) (count >> (24 - 8 * i));
        header_size = 5;
    }
    memcpy (self->data + at, header, header_size);
    memmove (self->data + at + header_size, body, size);
    self->size -= S_RESERVED - header_size;
    return 0;
}

ssize_t
zhive_pack_array_begin (zhive_pack_t *self)
{
    return s_begin (self, 0xdd);
}

int
zhive_pack_array_end (zhive_pack_t *self, ssize_t handle)
{
    return s_end (self, handle, 0xdd);
}

ssize_t
zhive_pack_map_begin (zhive_pack_t *self)
{
    return s_begin (self, 0xdf);
}

int
zhive_pack_map_end (zhive_pack_t *self, ssize_t handle)
{
    return s_end (self, handle, 0xdf);
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
            (key_size == 0 || memcmp (k->via.str.ptr, key, key_size) == 0))
            return &value->via.map.ptr [i].val;
    }
    return NULL;
}
