/*  =========================================================================
    zhive_reader - the one reader of untrusted msgpack bytes (private)

    Everything zhive reads from a peer goes through here: a cursor that
    checks every declared length against the bytes that are left, and a
    walk over one whole value (zhive_msgpack_skip, in zhive_pack.h) that
    bounds nesting without allocating. Readers return 0, or -1 when the
    bytes are not what was asked for (the cursor may then have moved).
    =========================================================================
*/
#ifndef ZHIVE_READER_H_INCLUDED
#define ZHIVE_READER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

//  A cursor over bytes that are not trusted
typedef struct {
    const uint8_t *data;    //  Next byte to read
    const uint8_t *end;     //  One past the last byte
} zhive_reader_t;

//  Start reading size bytes at data.
static inline void
zhive_reader_init (zhive_reader_t *self, const void *data, size_t size)
{
    self->data = (const uint8_t *) data;
    self->end = self->data + size;
}

//  Bytes not read yet.
static inline size_t
zhive_reader_left (const zhive_reader_t *self)
{
    return (size_t) (self->end - self->data);
}

//  Read an integer (positive or negative fixint, int8..64, uint8..64).
//  A uint64 above INT64_MAX is stored as its two's complement and, if
//  is_unsigned_big is not NULL, flagged there.
int zhive_reader_int (zhive_reader_t *self, int64_t *out, bool *is_unsigned_big);

//  Read a non-negative integer.
int zhive_reader_uint (zhive_reader_t *self, uint64_t *out);

//  Read an array header: its element count in *count.
int zhive_reader_array (zhive_reader_t *self, size_t *count);

//  Read a str (not bin): a pointer into the bytes and its length.
int zhive_reader_str_ref (zhive_reader_t *self, const char **ptr, size_t *size);

//  Read a str into a field of max + 1 bytes, NUL-terminated; refuses one
//  longer than max or holding a NUL byte.
int zhive_reader_str (zhive_reader_t *self, char *dest, size_t max);

//  As zhive_reader_str, into a new allocation that replaces *dest (freed).
int zhive_reader_str_alloc (zhive_reader_t *self, char **dest, size_t max);

//  Step over one whole value of any type, checked as zhive_msgpack_skip
//  checks it.
int zhive_reader_skip (zhive_reader_t *self);

//  If data starts with a msgpack array header, its size in bytes (1, 3 or
//  5) and the element count in *count; else 0. Checks only the header.
size_t zhive_msgpack_array_header (const void *data, size_t size, size_t *count);

//  ---------------------------------------------------------------------
//  Reading any value, one tag at a time (the JSON writer, measuring)

//  What the next value is, from its first byte alone.
typedef enum {
    ZHIVE_READER_NONE,     //  No bytes left, or the tag msgpack never uses
    ZHIVE_READER_NIL,      //  nil
    ZHIVE_READER_BOOL,     //  true or false
    ZHIVE_READER_INT,      //  any integer (zhive_reader_int)
    ZHIVE_READER_FLOAT,    //  float32 or float64
    ZHIVE_READER_STR,      //  str
    ZHIVE_READER_BIN,      //  bin
    ZHIVE_READER_EXT,      //  ext or fixext
    ZHIVE_READER_ARRAY,    //  array header
    ZHIVE_READER_MAP       //  map header
} zhive_reader_kind_t;

//  The kind of the next value; reads nothing. The value may still be
//  truncated: the reader of that kind checks.
zhive_reader_kind_t zhive_reader_peek (const zhive_reader_t *self);

//  Read a nil.
int zhive_reader_nil (zhive_reader_t *self);

//  Read a bool.
int zhive_reader_bool (zhive_reader_t *self, bool *out);

//  Read a float32 (widened) or float64.
int zhive_reader_float (zhive_reader_t *self, double *out);

//  Read a bin: a pointer into the bytes and its length.
int zhive_reader_bin_ref (zhive_reader_t *self, const char **ptr, size_t *size);

//  Read an ext or fixext: its type, a pointer to its data and its length.
int zhive_reader_ext_ref (zhive_reader_t *self, int8_t *type, const char **ptr, size_t *size);

//  Read a map header: its number of key/value pairs in *count.
int zhive_reader_map (zhive_reader_t *self, size_t *count);

//  As zhive_msgpack_skip (same checks, same result), and also say what
//  msgpack-c would allocate to unpack the value: *objects, the number of
//  values in it (every element, key and value, and the value itself), and
//  *bytes, their size as msgpack_object cells (str, bin and ext bodies are
//  referenced, not copied). Either pointer may be NULL. Compare *bytes
//  with ZHIVE_UNPACK_MAX before unpacking bytes from a peer.
ssize_t zhive_msgpack_measure (const void *data, size_t size, size_t *objects, size_t *bytes);

#ifdef __cplusplus
}
#endif

#endif
