/*  =========================================================================
    zhive_json_key - the JSON texts of msgpack scalars and map keys

    What zhive_json_writer writes for a nil, bool, number, and for a map
    key, read from the bytes with the shared reader. Reals are formatted by
    jansson itself, so they are what its output has always been. A key
    that is not a plain str is packed again as msgpack-c packs it (the
    shortest form of every header and number) and armoured in base64.
    =========================================================================
*/
#include "zhive_json_key.h"
#include "zhive_json.h"
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A growing byte buffer
typedef struct {
    char *data;         //  The bytes (owned)
    size_t size;        //  Bytes in use
    size_t capacity;    //  Bytes allocated
} s_text_t;

struct _zhive_json_key_t {
    json_t *real;         //  A real that jansson formats for us
    s_text_t packed;      //  A key packed as msgpack-c packs it
    s_text_t text [2];    //  Texts of the two keys being compared
};

//  ---------------------------------------------------------------------
//  Create the key renderer

zhive_json_key_t *
zhive_json_key_new (void)
{
    zhive_json_key_t *self = (zhive_json_key_t *) calloc (1, sizeof (zhive_json_key_t));
    if (!self)
        return NULL;
    self->real = json_real (0);
    if (!self->real) {
        free (self);
        return NULL;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the key renderer

void
zhive_json_key_destroy (zhive_json_key_t **self_p)
{
    assert (self_p);
    zhive_json_key_t *self = *self_p;
    if (self) {
        json_decref (self->real);
        free (self->packed.data);
        free (self->text [0].data);
        free (self->text [1].data);
        free (self);
        *self_p = NULL;
    }
}

//  Make room for size more bytes at the end of text
static int
s_text_reserve (s_text_t *text, size_t size)
{
    if (text->size + size > text->capacity) {
        size_t capacity = text->capacity ? text->capacity : 64;
        while (capacity < text->size + size)
            capacity *= 2;
        char *grown = (char *) realloc (text->data, capacity);
        if (!grown)
            return -1;
        text->data = grown;
        text->capacity = capacity;
    }
    return 0;
}

//  Append size bytes to text
static int
s_text_add (s_text_t *text, const void *data, size_t size)
{
    if (s_text_reserve (text, size))
        return -1;
    if (size)
        memcpy (text->data + text->size, data, size);
    text->size += size;
    return 0;
}

//  ---------------------------------------------------------------------
//  Standard base64 with padding (binary data has no JSON form)

size_t
zhive_json_key_base64 (const void *data, size_t size, char *out)
{
    const uint8_t *bytes = (const uint8_t *) data;
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *start = out;
    size_t index = 0;
    for (; index + 2 < size; index += 3) {
        uint32_t group =
            (uint32_t) bytes [index] << 16 | (uint32_t) bytes [index + 1] << 8 | bytes [index + 2];
        *out++ = alphabet [group >> 18 & 63];
        *out++ = alphabet [group >> 12 & 63];
        *out++ = alphabet [group >> 6 & 63];
        *out++ = alphabet [group & 63];
    }
    if (index < size) {
        uint32_t group = (uint32_t) bytes [index] << 16;
        if (index + 1 < size)
            group |= (uint32_t) bytes [index + 1] << 8;
        *out++ = alphabet [group >> 18 & 63];
        *out++ = alphabet [group >> 12 & 63];
        *out++ = index + 1 < size ? alphabet [group >> 6 & 63] : '=';
        *out++ = '=';
    }
    return (size_t) (out - start);
}

//  ---------------------------------------------------------------------
//  True if the bytes are UTF-8 as jansson accepts it

bool
zhive_json_key_utf8 (const char *text, size_t size)
{
    const uint8_t *bytes = (const uint8_t *) text;
    size_t index = 0;
    while (index < size) {
        uint8_t first = bytes [index];
        size_t count;
        uint32_t value;
        if (first < 0x80) {
            index++;
            continue;
        }
        if (first >= 0xc2 && first <= 0xdf) {
            count = 2;
            value = first & 0x1f;
        }
        else if (first >= 0xe0 && first <= 0xef) {
            count = 3;
            value = first & 0x0f;
        }
        else if (first >= 0xf0 && first <= 0xf4) {
            count = 4;
            value = first & 0x07;
        }
        else
            return false;
        if (count > size - index)
            return false;
        for (size_t next = 1; next < count; next++) {
            uint8_t byte = bytes [index + next];
            if (byte < 0x80 || byte > 0xbf)
                return false;
            value = value << 6 | (byte & 0x3f);
        }
        if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff) ||
            (count == 2 && value < 0x80) || (count == 3 && value < 0x800) ||
            (count == 4 && value < 0x10000))
            return false;
        index += count;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Scalars

//  The JSON text of a double into buffer [ZHIVE_JSON_SCALAR_MAX]; its length, or
//  -1. Non-finite doubles have no JSON number: they are strings
static int
s_real_text (zhive_json_key_t *self, double number, char *buffer)
{
    const char *word = isnan (number)    ? "\"NaN\""
                       : !isinf (number) ? NULL
                       : number > 0      ? "\"Infinity\""
                                         : "\"-Infinity\"";
    if (word) {
        strcpy (buffer, word);
        return (int) strlen (word);
    }
    if (json_real_set (self->real, number))
        return -1;
    size_t length = json_dumpb (self->real, buffer, ZHIVE_JSON_SCALAR_MAX, ZHIVE_JSON_DUMP_FLAGS);
    return length == 0 || length >= ZHIVE_JSON_SCALAR_MAX ? -1 : (int) length;
}

//  ---------------------------------------------------------------------
//  The JSON text of the nil, bool, integer or float at the cursor

int
zhive_json_key_scalar (zhive_json_key_t *self, zhive_reader_t *cur, char *buffer)
{
    bool flag;
    int64_t integer;
    double number;
    switch (zhive_reader_peek (cur)) {
        case ZHIVE_READER_NIL:
            if (zhive_reader_nil (cur))
                return -1;
            strcpy (buffer, "null");
            return 4;
        case ZHIVE_READER_BOOL:
            if (zhive_reader_bool (cur, &flag))
                return -1;
            strcpy (buffer, flag ? "true" : "false");
            return flag ? 4 : 5;
        case ZHIVE_READER_INT:
            if (zhive_reader_int (cur, &integer, &flag))
                return -1;
            if (flag)    //  Above INT64_MAX: no JSON integer holds it
                return s_real_text (self, (double) (uint64_t) integer, buffer);
            return snprintf (buffer, ZHIVE_JSON_SCALAR_MAX, "%" PRId64, integer);
        case ZHIVE_READER_FLOAT:
            if (zhive_reader_float (cur, &number))
                return -1;
            return s_real_text (self, number, buffer);
        default: return -1;
    }
}

//  ---------------------------------------------------------------------
//  A key packed again as msgpack-c packs the value it unpacked: the
//  shortest form of each header and number

//  A header: the tag of a fix form (fix_max is its largest count, 0 for
//  none), else the 8, 16 or 32-bit tag (tag8 0 for none) and the length
static int
s_pack_header (s_text_t *out, uint8_t fix, size_t fix_max, uint8_t tag8, uint8_t tag16,
               uint8_t tag32, size_t length)
{
    uint8_t head [5];
    size_t size;
    if (fix && length <= fix_max) {
        head [0] = (uint8_t) (fix | length);
        size = 1;
    }
    else if (tag8 && length < 256) {
        head [0] = tag8;
        head [1] = (uint8_t) length;
        size = 2;
    }
    else if (length < 65536) {
        head [0] = tag16;
        head [1] = (uint8_t) (length >> 8);
        head [2] = (uint8_t) length;
        size = 3;
    }
    else {
        head [0] = tag32;
        for (int index = 0; index < 4; index++)
            head [1 + index] = (uint8_t) (length >> (24 - 8 * index));
        size = 5;
    }
    return s_text_add (out, head, size);
}

//  A tag and a big-endian number of `bytes` bytes
static int
s_pack_number (s_text_t *out, uint8_t tag, uint64_t value, int bytes)
{
    uint8_t head [9] = { tag };
    for (int index = 0; index < bytes; index++)
        head [1 + index] = (uint8_t) (value >> (8 * (bytes - 1 - index)));
    return s_text_add (out, head, 1 + (size_t) bytes);
}

static int
s_pack_integer (s_text_t *out, int64_t value, bool is_unsigned_big)
{
    if (is_unsigned_big || value >= 0) {
        uint64_t number = (uint64_t) value;
        if (number < 128)
            return s_pack_number (out, (uint8_t) number, 0, 0);
        if (number < 256)
            return s_pack_number (out, 0xcc, number, 1);
        if (number < 65536)
            return s_pack_number (out, 0xcd, number, 2);
        if (number <= UINT32_MAX)
            return s_pack_number (out, 0xce, number, 4);
        return s_pack_number (out, 0xcf, number, 8);
    }
    if (value >= -32)
        return s_pack_number (out, (uint8_t) value, 0, 0);
    if (value >= -128)
        return s_pack_number (out, 0xd0, (uint64_t) value, 1);
    if (value >= -32768)
        return s_pack_number (out, 0xd1, (uint64_t) value, 2);
    if (value >= INT32_MIN)
        return s_pack_number (out, 0xd2, (uint64_t) value, 4);
    return s_pack_number (out, 0xd3, (uint64_t) value, 8);
}

static int
s_pack (s_text_t *out, zhive_reader_t *cur)
{
    bool flag;
    int64_t integer;
    double number;
    const char *ptr;
    size_t size = 0;    //  Values inside, for an array or map
    int8_t type;
    uint8_t tag = *cur->data;
    int rc = -1;
    switch (zhive_reader_peek (cur)) {
        case ZHIVE_READER_NIL:
            rc = zhive_reader_nil (cur) || s_pack_number (out, 0xc0, 0, 0);
            break;
        case ZHIVE_READER_BOOL:
            rc = zhive_reader_bool (cur, &flag) || s_pack_number (out, flag ? 0xc3 : 0xc2, 0, 0);
            break;
        case ZHIVE_READER_INT:
            rc = zhive_reader_int (cur, &integer, &flag) || s_pack_integer (out, integer, flag);
            break;
        case ZHIVE_READER_FLOAT:
            if (zhive_reader_float (cur, &number))
                break;
            if (tag == 0xca) {
                float single = (float) number;
                uint32_t bits;
                memcpy (&bits, &single, sizeof bits);
                rc = s_pack_number (out, 0xca, bits, 4);
            }
            else {
                uint64_t bits;
                memcpy (&bits, &number, sizeof bits);
                rc = s_pack_number (out, 0xcb, bits, 8);
            }
            break;
        case ZHIVE_READER_STR:
            rc = zhive_reader_str_ref (cur, &ptr, &size) ||
                 s_pack_header (out, 0xa0, 31, 0xd9, 0xda, 0xdb, size) ||
                 s_text_add (out, ptr, size);
            size = 0;
            break;
        case ZHIVE_READER_BIN:
            rc = zhive_reader_bin_ref (cur, &ptr, &size) ||
                 s_pack_header (out, 0, 0, 0xc4, 0xc5, 0xc6, size) || s_text_add (out, ptr, size);
            size = 0;
            break;
        case ZHIVE_READER_EXT:
            if (zhive_reader_ext_ref (cur, &type, &ptr, &size))
                break;
            //  fixext 1, 2, 4, 8, 16 (0xd4..0xd8), else ext 8, 16, 32
            if (size == 1 || size == 2 || size == 4 || size == 8 || size == 16) {
                uint8_t fix = 0xd4;
                while ((size_t) 1 << (fix - 0xd4) < size)
                    fix++;
                rc = s_pack_number (out, fix, 0, 0);
            }
            else
                rc = s_pack_header (out, 0, 0, 0xc7, 0xc8, 0xc9, size);
            rc = rc || s_pack_number (out, (uint8_t) type, 0, 0) || s_text_add (out, ptr, size);
            size = 0;
            break;
        case ZHIVE_READER_ARRAY:
            rc = zhive_reader_array (cur, &size) ||
                 s_pack_header (out, 0x90, 15, 0, 0xdc, 0xdd, size);
            break;
        case ZHIVE_READER_MAP:
            rc =
                zhive_reader_map (cur, &size) || s_pack_header (out, 0x80, 15, 0, 0xde, 0xdf, size);
            size *= 2;
            break;
        default: break;
    }
    for (size_t item = 0; rc == 0 && item < size; item++)
        rc = s_pack (out, cur);
    return rc ? -1 : 0;
}

//  ---------------------------------------------------------------------
//  The text a map key renders as

int
zhive_json_key_text (zhive_json_key_t *self, const void *key, const void *end, int which,
                     const char **out, size_t *size)
{
    assert (which == 0 || which == 1);
    s_text_t *text = &self->text [which];
    zhive_reader_t cur;
    zhive_reader_init (&cur, key, (size_t) ((const uint8_t *) end - (const uint8_t *) key));
    zhive_reader_kind_t kind = zhive_reader_peek (&cur);
    if (kind == ZHIVE_READER_STR) {
        if (zhive_reader_str_ref (&cur, out, size))
            return -1;
        if (!memchr (*out, 0, *size) && zhive_json_key_utf8 (*out, *size))
            return 0;
    }
    else if (kind != ZHIVE_READER_BIN && kind != ZHIVE_READER_EXT && kind != ZHIVE_READER_ARRAY &&
             kind != ZHIVE_READER_MAP) {
        char buffer [ZHIVE_JSON_SCALAR_MAX];
        int length = zhive_json_key_scalar (self, &cur, buffer);
        text->size = 0;
        if (length < 0 || s_text_add (text, buffer, (size_t) length))
            return -1;
        *out = text->data;
        *size = text->size;
        return 0;
    }
    //  Anything else is armoured: "$msgpack:" + base64 of the key packed
    zhive_reader_init (&cur, key, (size_t) ((const uint8_t *) end - (const uint8_t *) key));
    self->packed.size = 0;
    text->size = 0;
    if (s_pack (&self->packed, &cur) || s_text_add (text, "$msgpack:", 9) ||
        s_text_reserve (text, (self->packed.size + 2) / 3 * 4))
        return -1;
    text->size += zhive_json_key_base64 (self->packed.data, self->packed.size, text->data + 9);
    *out = text->data;
    *size = text->size;
    return 0;
}
