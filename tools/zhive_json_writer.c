/*  =========================================================================
    zhive_json_writer - msgpack bytes -> JSON text, without building trees

    The value is checked once with zhive_msgpack_skip (whole, at most
    ZHIVE_DEPTH_MAX deep), so the recursion below is bounded and every read
    after that succeeds. Reals are formatted by jansson itself, so they are
    what its output has always been; everything else is written here.
    =========================================================================
*/
#include "zhive_json_writer.h"
#include "zhive_json.h"
#include "zhive_reader.h"
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_OUT_MAX    16384    //  Text kept before it goes to the file
#define S_SCALAR_MAX 100      //  Room for the text of a number (jansson's too)

//  A growing byte buffer
typedef struct {
    char *data;         //  The bytes (owned)
    size_t size;        //  Bytes in use
    size_t capacity;    //  Bytes allocated
} s_text_t;

//  The distinct keys of one map: open addressing, linear probing. A slot
//  holds 0 (empty) or 1 + the offset, from the map's first entry, of an
//  entry with that key: the last one until the key is written, then the
//  one it was written at. In 4 bytes a slot (8 for a map of 4 GiB or more)
//  and a byte of the key's hash, so most probes compare no text
typedef struct {
    void *slots;        //  capacity offsets: uint32_t, or uint64_t if wide
    uint8_t *tags;      //  capacity hash bytes, set where a slot is used
    size_t capacity;    //  A power of two, or 0
    size_t used;        //  Slots holding a key
    bool wide;          //  slots are uint64_t
} s_index_t;

struct _zhive_json_writer_t {
    FILE *file;              //  Where the text goes (borrowed)
    char out [S_OUT_MAX];    //  Text not yet handed to the file
    size_t used;             //  Bytes of out in use
    bool failed;             //  Out of memory or the file failed
    json_t *real;            //  A real that jansson formats for us
    uint64_t seed;           //  Seeds the key hash, so collisions cannot be planned
    s_text_t packed;         //  A key packed as msgpack-c packs it
    s_text_t key [2];        //  Texts of the two keys being compared
};

static int s_value (zhive_json_writer_t *self, zhive_reader_t *cur);

//  ---------------------------------------------------------------------
//  Create a writer to a file

zhive_json_writer_t *
zhive_json_writer_new (FILE *file)
{
    assert (file);
    zhive_json_writer_t *self = (zhive_json_writer_t *) calloc (1, sizeof (zhive_json_writer_t));
    if (!self)
        return NULL;
    self->file = file;
    self->real = json_real (0);
    if (!self->real) {
        free (self);
        return NULL;
    }
    if (getentropy (&self->seed, sizeof self->seed) != 0) {
        struct timespec now;
        clock_gettime (CLOCK_MONOTONIC, &now);
        self->seed = (uint64_t) now.tv_nsec ^ (uint64_t) (uintptr_t) self;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the writer

void
zhive_json_writer_destroy (zhive_json_writer_t **self_p)
{
    assert (self_p);
    zhive_json_writer_t *self = *self_p;
    if (self) {
        json_decref (self->real);
        free (self->packed.data);
        free (self->key [0].data);
        free (self->key [1].data);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------------
//  Output

//  Hand the buffered text to the file
static void
s_flush (zhive_json_writer_t *self)
{
    if (self->used && fwrite (self->out, 1, self->used, self->file) != self->used)
        self->failed = true;
    self->used = 0;
}

static void
s_put (zhive_json_writer_t *self, const char *data, size_t size)
{
    if (self->used + size > S_OUT_MAX) {
        s_flush (self);
        if (size > S_OUT_MAX) {
            if (fwrite (data, 1, size, self->file) != size)
                self->failed = true;
            return;
        }
    }
    if (size) {
        memcpy (self->out + self->used, data, size);
        self->used += size;
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

//  Standard base64 with padding of size bytes into out, which holds
//  (size + 2) / 3 * 4 bytes; returns that length
static size_t
s_base64 (const uint8_t *bytes, size_t size, char *out)
{
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

//  Write bytes as base64, a piece at a time
static void
s_put_base64 (zhive_json_writer_t *self, const char *data, size_t size)
{
    char piece [4096];
    const size_t step = sizeof piece / 4 * 3;
    for (size_t offset = 0; offset < size; offset += step) {
        size_t length = size - offset < step ? size - offset : step;
        s_put (self, piece, s_base64 ((const uint8_t *) data + offset, length, piece));
    }
}

//  True if the bytes are UTF-8 as jansson accepts it: no overlong forms,
//  no surrogates, nothing past U+10FFFF
static bool
s_utf8 (const char *text, size_t size)
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

//  Write valid UTF-8 as a JSON string, escaped as jansson escapes it
static void
s_put_string (zhive_json_writer_t *self, const char *text, size_t size)
{
    s_put (self, "\"", 1);
    size_t run = 0;    //  Start of the bytes that need no escape
    for (size_t index = 0; index < size; index++) {
        uint8_t byte = (uint8_t) text [index];
        if (byte >= 0x20 && byte != '"' && byte != '\\')
            continue;
        s_put (self, text + run, index - run);
        char escape [8];
        const char *sequence = escape;
        switch (byte) {
            case '\\': sequence = "\\\\"; break;
            case '"': sequence = "\\\""; break;
            case '\b': sequence = "\\b"; break;
            case '\f': sequence = "\\f"; break;
            case '\n': sequence = "\\n"; break;
            case '\r': sequence = "\\r"; break;
            case '\t': sequence = "\\t"; break;
            default: snprintf (escape, sizeof escape, "\\u%04X", byte);
        }
        s_put (self, sequence, strlen (sequence));
        run = index + 1;
    }
    s_put (self, text + run, size - run);
    s_put (self, "\"", 1);
}

//  {"$bytes":"<base64>"}
static void
s_put_bytes (zhive_json_writer_t *self, const char *data, size_t size)
{
    s_put (self, "{\"$bytes\":\"", 11);
    s_put_base64 (self, data, size);
    s_put (self, "\"}", 2);
}

//  ---------------------------------------------------------------------
//  Scalars

//  The JSON text of a double into buffer [S_SCALAR_MAX]; its length, or
//  -1. Non-finite doubles have no JSON number: they are strings
static int
s_real_text (zhive_json_writer_t *self, double number, char *buffer)
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
    size_t length = json_dumpb (self->real, buffer, S_SCALAR_MAX, ZHIVE_JSON_DUMP_FLAGS);
    return length == 0 || length >= S_SCALAR_MAX ? -1 : (int) length;
}

//  The JSON text of the nil, bool, integer or float at the cursor into
//  buffer [S_SCALAR_MAX]; its length, or -1 if it is none of those
static int
s_scalar_text (zhive_json_writer_t *self, zhive_reader_t *cur, char *buffer)
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
            return snprintf (buffer, S_SCALAR_MAX, "%" PRId64, integer);
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
//  Map keys

//  The text of the map key at `key` (see zhive_json_writer.h): into the
//  bytes for a plain str key, else into `text`. Returns 0, or -1 if out of
//  memory
static int
s_key_text (zhive_json_writer_t *self, const uint8_t *key, const uint8_t *end, s_text_t *text,
            const char **out, size_t *size)
{
    zhive_reader_t cur;
    zhive_reader_init (&cur, key, (size_t) (end - key));
    zhive_reader_kind_t kind = zhive_reader_peek (&cur);
    if (kind == ZHIVE_READER_STR) {
        if (zhive_reader_str_ref (&cur, out, size))
            return -1;
        if (!memchr (*out, 0, *size) && s_utf8 (*out, *size))
            return 0;
    }
    else if (kind != ZHIVE_READER_BIN && kind != ZHIVE_READER_EXT && kind != ZHIVE_READER_ARRAY &&
             kind != ZHIVE_READER_MAP) {
        char buffer [S_SCALAR_MAX];
        int length = s_scalar_text (self, &cur, buffer);
        text->size = 0;
        if (length < 0 || s_text_add (text, buffer, (size_t) length))
            return -1;
        *out = text->data;
        *size = text->size;
        return 0;
    }
    //  Anything else is armoured: "$msgpack:" + base64 of the key packed
    zhive_reader_init (&cur, key, (size_t) (end - key));
    self->packed.size = 0;
    text->size = 0;
    if (s_pack (&self->packed, &cur) || s_text_add (text, "$msgpack:", 9) ||
        s_text_reserve (text, (self->packed.size + 2) / 3 * 4))
        return -1;
    text->size += s_base64 ((const uint8_t *) self->packed.data, self->packed.size, text->data + 9);
    *out = text->data;
    *size = text->size;
    return 0;
}

//  One step of a 64-bit mix (SplitMix64's finaliser)
static uint64_t
s_mix (uint64_t value)
{
    value ^= value >> 30;
    value *= UINT64_C (0xbf58476d1ce4e5b9);
    value ^= value >> 27;
    value *= UINT64_C (0x94d049bb133111eb);
    return value ^ (value >> 31);
}

static uint64_t
s_hash (uint64_t seed, const char *text, size_t size)
{
    uint64_t hash = s_mix (seed ^ size);
    size_t index = 0;
    for (; index + 8 <= size; index += 8) {
        uint64_t word;
        memcpy (&word, text + index, 8);
        hash = s_mix (hash ^ word);
    }
    uint64_t tail = 0;
    if (index < size)
        memcpy (&tail, text + index, size - index);
    return s_mix (hash ^ tail);
}

//  The offset in slot `at` (0: empty)
static uint64_t
s_slot (const s_index_t *index, size_t at)
{
    return index->wide ? ((const uint64_t *) index->slots) [at]
                       : ((const uint32_t *) index->slots) [at];
}

static void
s_slot_set (s_index_t *index, size_t at, uint64_t offset)
{
    if (index->wide)
        ((uint64_t *) index->slots) [at] = offset;
    else
        ((uint32_t *) index->slots) [at] = (uint32_t) offset;
}

static void
s_index_free (s_index_t *index)
{
    free (index->slots);
    free (index->tags);
    index->slots = NULL;
    index->tags = NULL;
    index->capacity = index->used = 0;
}

//  Find the key whose text is text[0..size) in the index of the map whose
//  entries start at `first`: *slot is its slot and *found true, or *slot
//  is the empty slot it belongs in. Returns 0, or -1 if out of memory
static int
s_index_find (zhive_json_writer_t *self, const s_index_t *index, const uint8_t *first,
              const uint8_t *end, const char *text, size_t size, uint64_t hash, size_t *slot,
              bool *found)
{
    size_t mask = index->capacity - 1;
    uint8_t tag = (uint8_t) (hash >> 56);
    for (size_t at = (size_t) hash & mask;; at = (at + 1) & mask) {
        uint64_t offset = s_slot (index, at);
        *slot = at;
        *found = false;
        if (offset == 0)
            return 0;
        if (index->tags [at] == tag) {
            const char *other;
            size_t other_size;
            if (s_key_text (self, first + offset - 1, end, &self->key [1], &other, &other_size))
                return -1;
            if (other_size == size && (size == 0 || memcmp (other, text, size) == 0)) {
                *found = true;
                return 0;
            }
        }
    }
}

//  Make room for one more key, keeping the index at most 3/4 full
static int
s_index_grow (zhive_json_writer_t *self, s_index_t *index, const uint8_t *first, const uint8_t *end)
{
    if ((index->used + 1) * 4 <= index->capacity * 3)
        return 0;
    s_index_t grown = { NULL, NULL, index->capacity ? index->capacity * 2 : 16, index->used,
                        index->wide };
    grown.slots = calloc (grown.capacity, grown.wide ? sizeof (uint64_t) : sizeof (uint32_t));
    grown.tags = (uint8_t *) malloc (grown.capacity);
    if (!grown.slots || !grown.tags) {
        s_index_free (&grown);
        return -1;
    }
    for (size_t old = 0; old < index->capacity; old++) {
        uint64_t offset = s_slot (index, old);
        const char *text;
        size_t size;
        if (offset == 0)
            continue;
        if (s_key_text (self, first + offset - 1, end, &self->key [1], &text, &size)) {
            s_index_free (&grown);
            return -1;
        }
        size_t at = (size_t) s_hash (self->seed, text, size) & (grown.capacity - 1);
        while (s_slot (&grown, at))
            at = (at + 1) & (grown.capacity - 1);
        s_slot_set (&grown, at, offset);
        grown.tags [at] = index->tags [old];
    }
    s_index_free (index);
    *index = grown;
    return 0;
}

//  Index the count entries of the map at the cursor (not moved): each
//  distinct key text with the offset of its last entry. *duplicates says
//  whether two keys had the same text. Returns 0, or -1 if out of memory
static int
s_index_build (zhive_json_writer_t *self, s_index_t *index, const zhive_reader_t *cur, size_t count,
               bool *duplicates)
{
    const uint8_t *first = cur->data;
    index->wide = (uint64_t) (cur->end - first) >= UINT32_MAX;
    zhive_reader_t walk = *cur;
    for (size_t entry = 0; entry < count; entry++) {
        const uint8_t *key = walk.data;
        const char *text;
        size_t size, slot;
        bool found;
        if (zhive_reader_skip (&walk) || zhive_reader_skip (&walk) ||
            s_index_grow (self, index, first, walk.end) ||
            s_key_text (self, key, walk.end, &self->key [0], &text, &size))
            return -1;
        uint64_t hash = s_hash (self->seed, text, size);
        if (s_index_find (self, index, first, walk.end, text, size, hash, &slot, &found))
            return -1;
        s_slot_set (index, slot, (uint64_t) (key - first) + 1);
        if (found)
            *duplicates = true;
        else {
            index->tags [slot] = (uint8_t) (hash >> 56);
            index->used++;
        }
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Values

//  A map of count entries at the cursor: each distinct key text once,
//  where it first appears, with the value of its last entry
static int
s_map (zhive_json_writer_t *self, zhive_reader_t *cur, size_t count)
{
    const uint8_t *first = cur->data;
    s_index_t index = { NULL, NULL, 0, 0, false };
    bool duplicates = false;
    int rc = 0;
    if (count > 1 && s_index_build (self, &index, cur, count, &duplicates))
        rc = -1;
    if (!duplicates)
        s_index_free (&index);    //  Not needed while the values are written
    s_put (self, "{", 1);
    bool comma = false;
    for (size_t entry = 0; rc == 0 && entry < count; entry++) {
        const uint8_t *key = cur->data;
        const char *text;
        size_t size;
        if (s_key_text (self, key, cur->end, &self->key [0], &text, &size) ||
            zhive_reader_skip (cur)) {
            rc = -1;
            break;
        }
        zhive_reader_t value = *cur;
        if (zhive_reader_skip (cur)) {
            rc = -1;
            break;
        }
        if (duplicates) {
            size_t slot;
            bool found;
            uint64_t hash = s_hash (self->seed, text, size);
            if (s_index_find (self, &index, first, cur->end, text, size, hash, &slot, &found) ||
                !found) {
                rc = -1;
                break;
            }
            //  Before it is written the slot holds the key's last entry,
            //  this one or a later one; after, the earlier one it was
            //  written at
            uint64_t here = (uint64_t) (key - first) + 1;
            uint64_t stored = s_slot (&index, slot);
            if (stored < here)
                continue;    //  Written where the key first appeared
            s_slot_set (&index, slot, here);
            const uint8_t *last = first + stored - 1;
            zhive_reader_init (&value, last, (size_t) (cur->end - last));
            if (zhive_reader_skip (&value)) {
                rc = -1;
                break;
            }
        }
        if (comma)
            s_put (self, ",", 1);
        comma = true;
        s_put_string (self, text, size);
        s_put (self, ":", 1);
        rc = s_value (self, &value);
    }
    s_put (self, "}", 1);
    s_index_free (&index);
    return rc;
}

static int
s_value (zhive_json_writer_t *self, zhive_reader_t *cur)
{
    char buffer [S_SCALAR_MAX];
    const char *ptr;
    size_t size;
    int8_t type;
    switch (zhive_reader_peek (cur)) {
        case ZHIVE_READER_NIL:
        case ZHIVE_READER_BOOL:
        case ZHIVE_READER_INT:
        case ZHIVE_READER_FLOAT: {
            int length = s_scalar_text (self, cur, buffer);
            if (length < 0)
                return -1;
            s_put (self, buffer, (size_t) length);
            break;
        }
        case ZHIVE_READER_STR:
            if (zhive_reader_str_ref (cur, &ptr, &size))
                return -1;
            if (s_utf8 (ptr, size))
                s_put_string (self, ptr, size);
            else
                s_put_bytes (self, ptr, size);
            break;
        case ZHIVE_READER_BIN:
            if (zhive_reader_bin_ref (cur, &ptr, &size))
                return -1;
            s_put_bytes (self, ptr, size);
            break;
        case ZHIVE_READER_EXT: {
            if (zhive_reader_ext_ref (cur, &type, &ptr, &size))
                return -1;
            int length = snprintf (buffer, sizeof buffer, "{\"$ext\":[%d,\"", (int) type);
            s_put (self, buffer, (size_t) length);
            s_put_base64 (self, ptr, size);
            s_put (self, "\"]}", 3);
            break;
        }
        case ZHIVE_READER_ARRAY:
            if (zhive_reader_array (cur, &size))
                return -1;
            s_put (self, "[", 1);
            for (size_t item = 0; item < size; item++) {
                if (item)
                    s_put (self, ",", 1);
                if (s_value (self, cur) || self->failed)
                    return -1;
            }
            s_put (self, "]", 1);
            break;
        case ZHIVE_READER_MAP:
            if (zhive_reader_map (cur, &size) || s_map (self, cur, size))
                return -1;
            break;
        default: return -1;
    }
    return self->failed ? -1 : 0;
}

//  ---------------------------------------------------------------------
//  Write one msgpack value as JSON

int
zhive_json_writer_put (zhive_json_writer_t *self, const void *data, size_t size)
{
    assert (self);
    ssize_t length = zhive_msgpack_skip (data, size);
    if (length < 0 || (size_t) length != size)
        return -1;
    self->failed = false;
    zhive_reader_t cur;
    zhive_reader_init (&cur, data, size);
    int rc = s_value (self, &cur);
    s_flush (self);
    return rc || self->failed ? -2 : 0;
}

//  ---------------------------------------------------------------------
//  The JSON text of one msgpack value in a new allocation

char *
zhive_json_writer_text (const void *data, size_t size)
{
    char *text = NULL;
    size_t length = 0;
    FILE *file = open_memstream (&text, &length);
    if (!file)
        return NULL;
    zhive_json_writer_t *writer = zhive_json_writer_new (file);
    int rc = writer ? zhive_json_writer_put (writer, data, size) : -2;
    zhive_json_writer_destroy (&writer);
    if (fclose (file) != 0 || rc != 0) {
        free (text);
        return NULL;
    }
    return text;
}
