/*  =========================================================================
    zhive_json_writer - msgpack bytes -> JSON text, without building trees

    Writes the JSON of one msgpack value straight from its bytes, read with
    the shared untrusted reader (zhive_reader): no msgpack_object tree, no
    jansson tree, so memory stays O(depth) beyond the bytes, whatever the
    value holds. The one exception is a map: to render its keys as the
    rules below say (a later value wins) it keeps an index of its distinct
    keys, 5 bytes a slot (9 for a map past 4 GiB), freed as soon as the
    map is known to have no duplicate, and the text of the longest key it
    compares.

    The text is what jansson's compact output (ZHIVE_JSON_DUMP_FLAGS) of
    the rules in zhive_json.h gives, byte for byte:
      nil, bool, float    null, true, false; a float with 17 significant
                          digits as jansson prints it; NaN, Infinity and
                          -Infinity as the strings "NaN", "Infinity",
                          "-Infinity"
      integers            JSON integers; an unsigned above INT64_MAX as a
                          real (it loses precision past 2^53)
      str                 a JSON string (\", \\, \b, \f, \n, \r, \t, other
                          control bytes as \u00XX, NUL as \u0000, the rest
                          as it is); a str that is not valid UTF-8 like bin
      bin                 {"$bytes":"<base64>"}
      ext                 {"$ext":[type,"<base64>"]}
      array               [a,b]
      map                 {"key":value}: a str key that is UTF-8 without
                          NUL is itself; a nil, bool or number key is its
                          compact JSON text ({1:"a"} is {"1":"a"}, NaN is
                          "\"NaN\""); any other key is "$msgpack:" and the
                          base64 of the key packed as msgpack-c packs it.
                          When two keys render the same, the entry stays
                          where the first was and takes the last value
    =========================================================================
*/
#ifndef ZHIVE_JSON_WRITER_H_INCLUDED
#define ZHIVE_JSON_WRITER_H_INCLUDED

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _zhive_json_writer_t zhive_json_writer_t;

//  ---------------------------------------------------------------------
//  Create a writer of JSON text to `file` (borrowed). Returns NULL if out
//  of memory.
zhive_json_writer_t *zhive_json_writer_new (FILE *file);

//  Destroy the writer; safe twice, nulls the pointer.
void zhive_json_writer_destroy (zhive_json_writer_t **self_p);

//  Write the one msgpack value in data[0..size) as compact JSON, with no
//  newline, and hand the text to the file (it may buffer it). Returns 0;
//  -1 if the bytes are not exactly one valid msgpack value (nothing
//  written); -2 if out of memory or the file failed (part of the text may
//  have been written).
int zhive_json_writer_put (zhive_json_writer_t *self, const void *data, size_t size);

//  The JSON text of the msgpack value in data[0..size), NUL-terminated
//  (caller frees), or NULL if the bytes are not one valid value or out of
//  memory.
char *zhive_json_writer_text (const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
