/*  =========================================================================
    zhive_json_writer - msgpack bytes -> JSON text, without building trees

    The value is checked once with zhive_msgpack_skip (whole, at most
    ZHIVE_DEPTH_MAX deep), so the recursion below is bounded and every read
    after that succeeds. zhive_json_key gives the texts of scalars and map
    keys; strings, bytes, arrays and maps are written here.
    =========================================================================
*/
#include "zhive_json_writer.h"
#include "zhive_json_key.h"
#include "zhive_pack.h"
#include "zhive_reader.h"
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_OUT_MAX 16384    //  Text kept before it goes to the file

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
    FILE *file;                //  Where the text goes (borrowed)
    char out [S_OUT_MAX];      //  Text not yet handed to the file
    size_t used;               //  Bytes of out in use
    bool failed;               //  Out of memory or the file failed
    zhive_json_key_t *keys;    //  Renders scalars and map keys (owned)
    uint64_t seed;             //  Seeds the key hash, so collisions cannot be planned
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
    self->keys = zhive_json_key_new ();
    if (!self->keys) {
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
        zhive_json_key_destroy (&self->keys);
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

//  Write bytes as base64, a piece at a time
static void
s_put_base64 (zhive_json_writer_t *self, const char *data, size_t size)
{
    char piece [4096];
    const size_t step = sizeof piece / 4 * 3;
    for (size_t offset = 0; offset < size; offset += step) {
        size_t length = size - offset < step ? size - offset : step;
        s_put (self, piece, zhive_json_key_base64 (data + offset, length, piece));
    }
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
            if (zhive_json_key_text (self->keys, first + offset - 1, end, 1, &other, &other_size))
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
        if (zhive_json_key_text (self->keys, first + offset - 1, end, 1, &text, &size)) {
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
            zhive_json_key_text (self->keys, key, walk.end, 0, &text, &size))
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
        if (zhive_json_key_text (self->keys, key, cur->end, 0, &text, &size) ||
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
    char buffer [ZHIVE_JSON_SCALAR_MAX];
    const char *ptr;
    size_t size;
    int8_t type;
    switch (zhive_reader_peek (cur)) {
        case ZHIVE_READER_NIL:
        case ZHIVE_READER_BOOL:
        case ZHIVE_READER_INT:
        case ZHIVE_READER_FLOAT: {
            int length = zhive_json_key_scalar (self->keys, cur, buffer);
            if (length < 0)
                return -1;
            s_put (self, buffer, (size_t) length);
            break;
        }
        case ZHIVE_READER_STR:
            if (zhive_reader_str_ref (cur, &ptr, &size))
                return -1;
            if (zhive_json_key_utf8 (ptr, size))
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
