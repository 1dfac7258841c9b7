/*  =========================================================================
    zhive_json_key - the JSON texts of msgpack scalars and map keys

    Part of zhive_json_writer (see there and zhive_json.h for the rules):
    the text of a nil, bool or number, and the text a map key renders as,
    read from the msgpack bytes. Also the UTF-8 test and base64 that the
    rules use.
    =========================================================================
*/
#ifndef ZHIVE_JSON_KEY_H_INCLUDED
#define ZHIVE_JSON_KEY_H_INCLUDED

#include "zhive_reader.h"
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Room for the text of any scalar (jansson's own bound for a real)
#define ZHIVE_JSON_SCALAR_MAX 100

typedef struct _zhive_json_key_t zhive_json_key_t;

//  ---------------------------------------------------------------------
//  Create a renderer of scalar and key texts. Returns NULL if out of
//  memory.
zhive_json_key_t *zhive_json_key_new (void);

//  Destroy the renderer; safe twice, nulls the pointer.
void zhive_json_key_destroy (zhive_json_key_t **self_p);

//  The JSON text of the nil, bool, integer or float at the cursor into
//  buffer [ZHIVE_JSON_SCALAR_MAX], the cursor moved past it: null, true,
//  false, an integer, a real as jansson prints it with 17 digits (also for
//  a uint above INT64_MAX), or "NaN", "Infinity", "-Infinity" in quotes.
//  Returns its length, or -1 if the value is none of those.
int zhive_json_key_scalar (zhive_json_key_t *self, zhive_reader_t *cur, char *buffer);

//  The text the map key at key (one valid value, before end) renders as:
//  a str that is UTF-8 without NUL as itself (*text points into the
//  bytes); a nil, bool or number as its scalar text; anything else as
//  "$msgpack:" and the base64 of the key packed as msgpack-c packs it.
//  Texts other than a plain str are kept in scratch `which` (0 or 1),
//  valid until that scratch is used again. Returns 0, or -1 if out of
//  memory.
int zhive_json_key_text (zhive_json_key_t *self, const void *key, const void *end, int which,
                         const char **text, size_t *size);

//  True if the bytes are UTF-8 as jansson accepts it: no overlong forms,
//  no surrogates, nothing past U+10FFFF. NUL is allowed.
bool zhive_json_key_utf8 (const char *text, size_t size);

//  Standard base64 with padding of size bytes into out, which must hold
//  (size + 2) / 3 * 4 bytes. Returns that length.
size_t zhive_json_key_base64 (const void *data, size_t size, char *out);

#ifdef __cplusplus
}
#endif

#endif
