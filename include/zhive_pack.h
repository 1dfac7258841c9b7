/*  =========================================================================
    zhive_pack - build msgpack values (task arguments, results) and read them

    Task arguments and results are msgpack. A zhive_pack_t is a growable
    buffer with a packer: append values with the zhive_pack_* calls, in the
    order msgpack expects (an array header, then its elements). Values read
    back are plain msgpack_object trees; the zhive_value_* helpers read them
    without a caller having to switch on msgpack types.
    =========================================================================
*/
#ifndef ZHIVE_PACK_H_INCLUDED
#define ZHIVE_PACK_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "zhive_export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_pack_t zhive_pack_t;

//  ---------------------------------------------------------------------
//  Create an empty buffer. Returns NULL only if out of memory.
ZHIVE_EXPORT zhive_pack_t *zhive_pack_new (void);

//  Destroy the buffer; safe to call with *self_p NULL.
ZHIVE_EXPORT void zhive_pack_destroy (zhive_pack_t **self_p);

//  ---------------------------------------------------------------------
//  Append one value. Each returns 0, or -1 if out of memory.
ZHIVE_EXPORT int zhive_pack_nil (zhive_pack_t *self);
ZHIVE_EXPORT int zhive_pack_bool (zhive_pack_t *self, bool value);
ZHIVE_EXPORT int zhive_pack_int (zhive_pack_t *self, int64_t value);
ZHIVE_EXPORT int zhive_pack_uint (zhive_pack_t *self, uint64_t value);
ZHIVE_EXPORT int zhive_pack_double (zhive_pack_t *self, double value);
//  A NUL-terminated UTF-8 string; NULL packs nil.
ZHIVE_EXPORT int zhive_pack_str (zhive_pack_t *self, const char *value);
//  A string of known length (need not be NUL-terminated).
ZHIVE_EXPORT int zhive_pack_strn (zhive_pack_t *self, const char *value, size_t size);
//  Binary data (msgpack bin type).
ZHIVE_EXPORT int zhive_pack_bytes (zhive_pack_t *self, const void *data, size_t size);
//  An array header: the next `count` values appended are its elements.
ZHIVE_EXPORT int zhive_pack_array (zhive_pack_t *self, uint32_t count);
//  A map header: the next 2 × `count` values appended are key, value, ...
ZHIVE_EXPORT int zhive_pack_map (zhive_pack_t *self, uint32_t count);
//  A copy of a value read elsewhere (a task argument, a result).
ZHIVE_EXPORT int zhive_pack_object (zhive_pack_t *self, const msgpack_object *value);
//  Bytes that already hold msgpack values, appended as they are. Returns
//  -1 with errno EPROTO if they are not a whole number of valid values.
ZHIVE_EXPORT int zhive_pack_raw (zhive_pack_t *self, const void *data, size_t size);

//  ---------------------------------------------------------------------
//  An array or map whose size is known only at the end:
//
//      ssize_t list = zhive_pack_array_begin (pack);
//      while (...)
//          zhive_pack_int (pack, next);          //  any values, nested too
//      zhive_pack_array_end (pack, list);       //  writes the count
//
//  begin reserves the header and returns its handle (an offset into the
//  buffer), or -1 if out of memory. end counts the values packed since
//  (for a map: keys and values, an even number) and writes the shortest
//  header for them, moving them down: the bytes are what zhive_pack_array
//  with the count would have made. Containers nest: end the inner one
//  first (last begun, first ended); a fixed-size zhive_pack_array inside
//  must be complete by then. end returns 0, or -1 with errno EINVAL (not
//  a handle of an open container of that kind, or an odd number of values
//  in a map) or EPROTO (the values after the header are not complete,
//  e.g. a zhive_pack_array short of elements). Ending an outer container
//  before an inner begun one is a programming error. Between begin and
//  end the buffer does not hold valid msgpack; zhive_pack_reset forgets
//  open containers.
ZHIVE_EXPORT ssize_t zhive_pack_array_begin (zhive_pack_t *self);
ZHIVE_EXPORT int zhive_pack_array_end (zhive_pack_t *self, ssize_t handle);
ZHIVE_EXPORT ssize_t zhive_pack_map_begin (zhive_pack_t *self);
ZHIVE_EXPORT int zhive_pack_map_end (zhive_pack_t *self, ssize_t handle);

//  ---------------------------------------------------------------------
//  The bytes packed so far (borrowed; valid until the next append).
ZHIVE_EXPORT const char *zhive_pack_data (const zhive_pack_t *self);

//  Number of bytes packed so far.
ZHIVE_EXPORT size_t zhive_pack_size (const zhive_pack_t *self);

//  Forget everything packed; keeps the memory for reuse.
ZHIVE_EXPORT void zhive_pack_reset (zhive_pack_t *self);

//  ---------------------------------------------------------------------
//  Readers for msgpack_object values. The scalar readers return 0 and
//  store the value, or -1 if the value has another type (nothing stored).

//  A positive or negative integer that fits int64_t.
ZHIVE_EXPORT int zhive_value_int (const msgpack_object *value, int64_t *out);
//  A float, or an integer converted to double.
ZHIVE_EXPORT int zhive_value_double (const msgpack_object *value, double *out);
//  A boolean.
ZHIVE_EXPORT int zhive_value_bool (const msgpack_object *value, bool *out);
//  A string or bin: pointer (borrowed, not NUL-terminated) and size.
ZHIVE_EXPORT int zhive_value_str (const msgpack_object *value, const char **ptr, size_t *size);

//  True if the value is nil (or NULL).
ZHIVE_EXPORT bool zhive_value_is_nil (const msgpack_object *value);

//  Number of elements of an array or pairs of a map; 0 for anything else.
ZHIVE_EXPORT size_t zhive_value_len (const msgpack_object *value);

//  The element at `index` of an array, or NULL if not an array or out of range.
ZHIVE_EXPORT const msgpack_object *zhive_value_at (const msgpack_object *value, size_t index);

//  The value under string key `key` in a map, or NULL.
ZHIVE_EXPORT const msgpack_object *zhive_value_get (const msgpack_object *value, const char *key);

//  Most levels of nested arrays and maps in any value zhive accepts: what
//  msgpack-c can unpack. A value nested deeper is Malformed everywhere
//  (arguments, results, chunks), checked by zhive_msgpack_skip.
#define ZHIVE_DEPTH_MAX 32

//  Most memory, in bytes, that unpacking one value from a peer may take.
//  msgpack-c makes a msgpack_object (24 bytes on 64-bit) for every value
//  inside, even a 1-byte nil, so bytes can unpack to 24 times their size;
//  str, bin and ext bodies are referenced in place and do not count. A
//  result past it is an error of type ZHIVE_ERR_TOO_LARGE ("TooLarge"),
//  never an ok result, so an ok result always has a value. zhive checks
//  it before it unpacks anything a peer sent.
#define ZHIVE_UNPACK_MAX (256 << 20)

//  Size in bytes of the first complete msgpack value in data[0..size), or
//  -1 if data does not start with a complete, well-formed value. Never
//  reads past size; nesting is limited to ZHIVE_DEPTH_MAX levels (an empty
//  array or map is a level too). Used to validate and split bytes that
//  come from the network.
ZHIVE_EXPORT ssize_t zhive_msgpack_skip (const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
