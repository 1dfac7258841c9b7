/*  =========================================================================
    zhive_json - JSON <-> msgpack for the zhive command line tool

    JSON is read by jansson; this class maps its tree onto msgpack. The
    other way, msgpack -> JSON, is written straight from the msgpack bytes
    by zhive_json_writer (no tree), following the rules below.

    JSON -> msgpack: null -> nil, true/false -> bool, integer -> int,
    real -> float64, string -> str (may hold NUL), array -> array,
    object -> map with str keys, in the object's order.

    msgpack -> JSON:
      nil, bool, float    as themselves; a non-finite float (NaN, ±inf) has
                          no JSON form and becomes the string "NaN",
                          "Infinity" or "-Infinity"
      integers            JSON integers; an unsigned above INT64_MAX does not
                          fit jansson's integer and becomes a JSON real (it
                          loses precision past 2^53)
      str                 a JSON string; a str that is not valid UTF-8 is
                          written like bin
      bin                 {"$bytes":"<base64>"}
      ext                 {"$ext":[type,"<base64>"]}
      map                 a JSON object. A str key that is UTF-8 without NUL
                          is itself; a number, bool or nil key is its
                          compact JSON text, so {1:"a"} becomes {"1":"a"};
                          any other key (array, map, bin, ext, a str with
                          NUL or not UTF-8) is "$msgpack:" and the base64 of
                          its msgpack bytes (packed again in msgpack-c's
                          shortest forms), so the output stays linear in
                          the input and always reads back as JSON. When two
                          keys render the same, the later value wins, in the
                          place of the first
    =========================================================================
*/
#ifndef ZHIVE_JSON_H_INCLUDED
#define ZHIVE_JSON_H_INCLUDED

#include <jansson.h>
#include "zhive_pack.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Flags for printing a value: one line, any value at top level, doubles
//  with enough digits to read back the same double.
#define ZHIVE_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION (17))

//  Flags for parsing a value: any value at top level, no duplicate keys,
//  NUL allowed inside strings (msgpack strings may hold it).
#define ZHIVE_JSON_LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

//  ---------------------------------------------------------------------
//  Parse `size` bytes of JSON text holding exactly one value. Returns the
//  value (caller owns it, json_decref), or NULL with a message such as
//  "column 5: invalid token near 'x'" (line first when the text holds
//  several lines) written into error[error_size].
json_t *zhive_json_parse (const char *text, size_t size, char *error, size_t error_size);

//  Levels of arrays and objects in a value (0 for a scalar, 1 for [1]):
//  zhive values hold at most ZHIVE_DEPTH_MAX.
size_t zhive_json_depth (const json_t *value);

//  Append a JSON value to a pack as one msgpack value. Returns 0, or -1 if
//  out of memory.
int zhive_json_pack (zhive_pack_t *pack, const json_t *value);

//  A string as JSON: a JSON string, or the {"$bytes":...} form when the
//  bytes are not valid UTF-8. Caller owns the result; NULL if out of memory.
json_t *zhive_json_string (const char *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
