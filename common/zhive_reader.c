/*  =========================================================================
    zhive_reader - the one reader of untrusted msgpack bytes
    =========================================================================
*/
#include "zhive_reader.h"
#include "zhive_pack.h"
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static int
s_need (const zhive_reader_t *cur, size_t bytes)
{
    return (size_t) (cur->end - cur->data) >= bytes ? 0 : -1;
}

static uint64_t
s_be (const uint8_t *p, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = (value << 8) | p [i];
    return value;
}

//  Reads a positive or negative integer; returns 0 or -1
int
zhive_reader_int (zhive_reader_t *cur, int64_t *out, bool *is_unsigned_big)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data++;
    if (is_unsigned_big)
        *is_unsigned_big = false;
    if (tag <= 0x7f) {
        *out = tag;
        return 0;
    }
    if (tag >= 0xe0) {
        *out = (int8_t) tag;
        return 0;
    }
    int bytes;
    bool is_signed;
    switch (tag) {
        case 0xcc:
            bytes = 1;
            is_signed = false;
            break;
        case 0xcd:
            bytes = 2;
            is_signed = false;
            break;
        case 0xce:
            bytes = 4;
            is_signed = false;
            break;
        case 0xcf:
            bytes = 8;
            is_signed = false;
            break;
        case 0xd0:
            bytes = 1;
            is_signed = true;
            break;
        case 0xd1:
            bytes = 2;
            is_signed = true;
            break;
        case 0xd2:
            bytes = 4;
            is_signed = true;
            break;
        case 0xd3:
            bytes = 8;
            is_signed = true;
            break;
        default: return -1;
    }
    if (s_need (cur, bytes))
        return -1;
    uint64_t raw = s_be (cur->data, bytes);
    cur->data += bytes;
    if (is_signed) {
        int shift = 64 - 8 * bytes;
        *out = (int64_t) (raw << shift) >> shift;
    }
    else {
        if (raw > INT64_MAX && is_unsigned_big)
            *is_unsigned_big = true;
        *out = (int64_t) raw;
    }
    return 0;
}

int
zhive_reader_uint (zhive_reader_t *cur, uint64_t *out)
{
    int64_t value;
    bool big;
    if (zhive_reader_int (cur, &value, &big))
        return -1;
    if (value < 0 && !big)
        return -1;
    *out = (uint64_t) value;
    return 0;
}

int
zhive_reader_array (zhive_reader_t *cur, size_t *count)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data++;
    if ((tag & 0xf0) == 0x90) {
        *count = tag & 0x0f;
        return 0;
    }
    int bytes = tag == 0xdc ? 2 : tag == 0xdd ? 4 : 0;
    if (bytes == 0 || s_need (cur, bytes))
        return -1;
    *count = (size_t) s_be (cur->data, bytes);
    cur->data += bytes;
    return 0;
}

//  Reads a str (not bin) and returns a pointer into the buffer and its size
int
zhive_reader_str_ref (zhive_reader_t *cur, const char **ptr, size_t *size)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data++;
    size_t length;
    if ((tag & 0xe0) == 0xa0)
        length = tag & 0x1f;
    else {
        int bytes = tag == 0xd9 ? 1 : tag == 0xda ? 2 : tag == 0xdb ? 4 : 0;
        if (bytes == 0 || s_need (cur, bytes))
            return -1;
        length = (size_t) s_be (cur->data, bytes);
        cur->data += bytes;
    }
    if (s_need (cur, length))
        return -1;
    *ptr = (const char *) cur->data;
    *size = length;
    cur->data += length;
    return 0;
}

//  Reads a str into a fixed field; refuses strings longer than max or
//  holding a NUL byte
int
zhive_reader_str (zhive_reader_t *cur, char *dest, size_t max)
{
    const char *ptr;
    size_t size;
    if (zhive_reader_str_ref (cur, &ptr, &size) || size > max || memchr (ptr, 0, size))
        return -1;
    memcpy (dest, ptr, size);
    dest [size] = 0;
    return 0;
}

int
zhive_reader_str_alloc (zhive_reader_t *cur, char **dest, size_t max)
{
    const char *ptr;
    size_t size;
    if (zhive_reader_str_ref (cur, &ptr, &size) || size > max || memchr (ptr, 0, size))
        return -1;
    char *copy = (char *) malloc (size + 1);
    if (!copy)
        return -1;
    memcpy (copy, ptr, size);
    copy [size] = 0;
    free (*dest);
    *dest = copy;
    return 0;
}

//  ---------------------------------------------------------------------
//  The kind of the next value, from its tag

zhive_reader_kind_t
zhive_reader_peek (const zhive_reader_t *cur)
{
    if (s_need (cur, 1))
        return ZHIVE_READER_NONE;
    uint8_t tag = *cur->data;
    if (tag <= 0x7f || tag >= 0xe0 || (tag >= 0xcc && tag <= 0xd3))
        return ZHIVE_READER_INT;
    if ((tag & 0xe0) == 0xa0 || (tag >= 0xd9 && tag <= 0xdb))
        return ZHIVE_READER_STR;
    if ((tag & 0xf0) == 0x90 || tag == 0xdc || tag == 0xdd)
        return ZHIVE_READER_ARRAY;
    if ((tag & 0xf0) == 0x80 || tag == 0xde || tag == 0xdf)
        return ZHIVE_READER_MAP;
    if (tag >= 0xc4 && tag <= 0xc6)
        return ZHIVE_READER_BIN;
    if ((tag >= 0xc7 && tag <= 0xc9) || (tag >= 0xd4 && tag <= 0xd8))
        return ZHIVE_READER_EXT;
    if (tag == 0xc0)
        return ZHIVE_READER_NIL;
    if (tag == 0xc2 || tag == 0xc3)
        return ZHIVE_READER_BOOL;
    if (tag == 0xca || tag == 0xcb)
        return ZHIVE_READER_FLOAT;
    return ZHIVE_READER_NONE;    //  0xc1
}

int
zhive_reader_nil (zhive_reader_t *cur)
{
    if (s_need (cur, 1) || *cur->data != 0xc0)
        return -1;
    cur->data++;
    return 0;
}

int
zhive_reader_bool (zhive_reader_t *cur, bool *out)
{
    if (s_need (cur, 1) || (*cur->data != 0xc2 && *cur->data != 0xc3))
        return -1;
    *out = *cur->data++ == 0xc3;
    return 0;
}

int
zhive_reader_float (zhive_reader_t *cur, double *out)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data;
    int bytes = tag == 0xca ? 4 : tag == 0xcb ? 8 : 0;
    if (bytes == 0 || s_need (cur, 1 + (size_t) bytes))
        return -1;
    uint64_t raw = s_be (cur->data + 1, bytes);
    cur->data += 1 + bytes;
    if (bytes == 4) {
        uint32_t word = (uint32_t) raw;
        float single;
        memcpy (&single, &word, sizeof single);
        *out = single;
    }
    else
        memcpy (out, &raw, sizeof *out);
    return 0;
}

//  Reads a length field of `bytes` bytes, then checks the body fits
static int
s_body (zhive_reader_t *cur, int bytes, size_t extra, const char **ptr, size_t *size)
{
    if (s_need (cur, (size_t) bytes))
        return -1;
    size_t length = (size_t) s_be (cur->data, bytes);
    cur->data += bytes;
    if (s_need (cur, extra) || s_need (cur, extra + length))
        return -1;
    *ptr = (const char *) cur->data + extra;
    *size = length;
    return 0;
}

int
zhive_reader_bin_ref (zhive_reader_t *cur, const char **ptr, size_t *size)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data;
    int bytes = tag == 0xc4 ? 1 : tag == 0xc5 ? 2 : tag == 0xc6 ? 4 : 0;
    if (bytes == 0)
        return -1;
    zhive_reader_t probe = { cur->data + 1, cur->end };
    if (s_body (&probe, bytes, 0, ptr, size))
        return -1;
    cur->data = (const uint8_t *) *ptr + *size;
    return 0;
}

int
zhive_reader_ext_ref (zhive_reader_t *cur, int8_t *type, const char **ptr, size_t *size)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data;
    zhive_reader_t probe = { cur->data + 1, cur->end };
    if (tag >= 0xd4 && tag <= 0xd8) {
        //  fixext 1, 2, 4, 8, 16: the type, then that many bytes
        size_t length = (size_t) 1 << (tag - 0xd4);
        if (s_need (&probe, 1 + length))
            return -1;
        *ptr = (const char *) probe.data + 1;
        *size = length;
    }
    else {
        int bytes = tag == 0xc7 ? 1 : tag == 0xc8 ? 2 : tag == 0xc9 ? 4 : 0;
        if (bytes == 0 || s_body (&probe, bytes, 1, ptr, size))
            return -1;
    }
    *type = (int8_t) ((const uint8_t *) *ptr) [-1];
    cur->data = (const uint8_t *) *ptr + *size;
    return 0;
}

int
zhive_reader_map (zhive_reader_t *cur, size_t *count)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->data;
    if ((tag & 0xf0) == 0x80) {
        *count = tag & 0x0f;
        cur->data++;
        return 0;
    }
    int bytes = tag == 0xde ? 2 : tag == 0xdf ? 4 : 0;
    if (bytes == 0 || s_need (cur, 1 + (size_t) bytes))
        return -1;
    *count = (size_t) s_be (cur->data + 1, bytes);
    cur->data += 1 + bytes;
    return 0;
}

int
zhive_reader_skip (zhive_reader_t *self)
{
    ssize_t size = zhive_msgpack_skip (self->data, zhive_reader_left (self));
    if (size <= 0)
        return -1;
    self->data += size;
    return 0;
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

//  ---------------------------------------------------------------------
//  Walk one msgpack value without allocating. An explicit stack of the
//  values still owed by open containers bounds the nesting depth: every
//  array or map is a level, empty ones too, as msgpack-c counts them.
//  Counts the values it steps over (containers and what they hold) into
//  *values.

static ssize_t
s_walk (const void *data, size_t size, size_t *values)
{
    const uint8_t *start = (const uint8_t *) data;
    const uint8_t *p = start;
    const uint8_t *end = start + size;
    uint64_t owed [ZHIVE_DEPTH_MAX];    //  Values still owed per open container
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
        (*values)++;
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
            if (depth == ZHIVE_DEPTH_MAX)
                return -1;
            if (children) {
                owed [depth++] = pending;
                pending = children;
            }
        }
    }
}

ssize_t
zhive_msgpack_skip (const void *data, size_t size)
{
    size_t values = 0;
    return s_walk (data, size, &values);
}

//  ---------------------------------------------------------------------
//  Skip one value and say what msgpack-c would allocate to unpack it:
//  one msgpack_object per value (a map's msgpack_object_kv is two)

ssize_t
zhive_msgpack_measure (const void *data, size_t size, size_t *objects, size_t *bytes)
{
    size_t values = 0;
    ssize_t length = s_walk (data, size, &values);
    if (objects)
        *objects = length < 0 ? 0 : values;
    if (bytes)
        *bytes = length < 0 ? 0 : values * sizeof (msgpack_object);
    return length;
}
