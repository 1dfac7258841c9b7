/*  =========================================================================
    zhive_json - JSON <-> msgpack for the zhive command line tool

    jansson parses and prints; this file walks one tree and builds the other.
    Parsed JSON is at most JSON_PARSER_MAX_DEPTH deep and msgpack-c limits
    the nesting it unpacks, so the recursion here is bounded.
    =========================================================================
*/
#include "zhive_json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Standard base64 with padding; returns a NUL-terminated string (free) or
//  NULL if out of memory. Binary data has no JSON form, so we armour it.
static char *
s_base64 (const void *data, size_t size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *bytes = (const unsigned char *) data;
    char *text = (char *) malloc ((size + 2) / 3 * 4 + 1);
    if (!text)
        return NULL;
    char *out = text;
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
    *out = 0;
    return text;
}

//  {"$bytes":"<base64>"} for bin data and for strings that are not UTF-8
static json_t *
s_bytes (const char *data, size_t size)
{
    char *text = s_base64 (data, size);
    if (!text)
        return NULL;
    json_t *value = json_pack ("{s:s}", "$bytes", text);
    free (text);
    return value;
}

json_t *
zhive_json_string (const char *data, size_t size)
{
    if (size == 0)
        data = "";    //  msgpack-c leaves ptr NULL for empty strings
    json_t *value = json_stringn (data, size);
    return value ? value : s_bytes (data, size);
}

//  {"$ext":[type,"<base64>"]} for msgpack extension values
static json_t *
s_ext (int8_t type, const char *data, size_t size)
{
    char *text = s_base64 (data, size);
    if (!text)
        return NULL;
    json_t *value = json_pack ("{s:[i,s]}", "$ext", (int) type, text);
    free (text);
    return value;
}

//  A double as JSON; NaN and infinities have no JSON number form
static json_t *
s_real (double number)
{
    if (isnan (number))
        return json_string ("NaN");
    if (isinf (number))
        return json_string (number > 0 ? "Infinity" : "-Infinity");
    return json_real (number);
}

//  Set one map entry on a JSON object. A str key that is valid UTF-8 is used
//  as it is; any other key is rendered as its compact JSON text.
//  The key of a map entry as JSON object key text (caller frees), linear
//  in the key's size: a str key that is UTF-8 without NUL as itself; a
//  scalar key (number, bool, nil) as its compact JSON text; any other key
//  (array, map, bin, ext, a str with NUL or not UTF-8) as "$msgpack:" and
//  the base64 of its msgpack bytes, so keys of keys never nest escapes
static char *
s_key_text (const msgpack_object *key)
{
    if (key->type == MSGPACK_OBJECT_STR) {
        const char *name = key->via.str.size ? key->via.str.ptr : "";
        json_t *probe =
            memchr (name, 0, key->via.str.size) ? NULL : json_stringn (name, key->via.str.size);
        if (probe) {
            json_decref (probe);
            return strndup (name, key->via.str.size);
        }
    }
    else if (key->type != MSGPACK_OBJECT_ARRAY && key->type != MSGPACK_OBJECT_MAP &&
             key->type != MSGPACK_OBJECT_BIN && key->type != MSGPACK_OBJECT_EXT)
        return zhive_json_dumps (key);
    zhive_pack_t *pack = zhive_pack_new ();
    char *armour = pack && zhive_pack_object (pack, key) == 0
                       ? s_base64 (zhive_pack_data (pack), zhive_pack_size (pack))
                       : NULL;
    zhive_pack_destroy (&pack);
    if (!armour)
        return NULL;
    char *text = (char *) malloc (strlen (armour) + 10);
    if (text)
        sprintf (text, "$msgpack:%s", armour);
    free (armour);
    return text;
}

static int
s_object_set (json_t *object, const msgpack_object *key, json_t *value)
{
    char *text = s_key_text (key);
    if (!text)
        return -1;
    int rc = json_object_set (object, text, value);
    free (text);
    return rc;
}

json_t *
zhive_json_from_msgpack (const msgpack_object *object)
{
    switch (object->type) {
        case MSGPACK_OBJECT_NIL: return json_null ();
        case MSGPACK_OBJECT_BOOLEAN: return json_boolean (object->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (object->via.u64 > INT64_MAX)
                return json_real ((double) object->via.u64);
            return json_integer ((json_int_t) object->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer ((json_int_t) object->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return s_real (object->via.f64);
        case MSGPACK_OBJECT_STR:
            return zhive_json_string (object->via.str.ptr, object->via.str.size);
        case MSGPACK_OBJECT_BIN: return s_bytes (object->via.bin.ptr, object->via.bin.size);
        case MSGPACK_OBJECT_EXT:
            return s_ext (object->via.ext.type, object->via.ext.ptr, object->via.ext.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *array = json_array ();
            for (uint32_t index = 0; array && index < object->via.array.size; index++) {
                json_t *item = zhive_json_from_msgpack (&object->via.array.ptr [index]);
                if (!item || json_array_append_new (array, item) != 0) {
                    json_decref (array);
                    array = NULL;
                }
            }
            return array;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *map = json_object ();
            for (uint32_t index = 0; map && index < object->via.map.size; index++) {
                const msgpack_object_kv *pair = &object->via.map.ptr [index];
                json_t *value = zhive_json_from_msgpack (&pair->val);
                int rc = value ? s_object_set (map, &pair->key, value) : -1;
                json_decref (value);
                if (rc != 0) {
                    json_decref (map);
                    map = NULL;
                }
            }
            return map;
        }
    }
    //  msgpack-c never makes another type; render it as null if it does
    return json_null ();
}

char *
zhive_json_dumps (const msgpack_object *object)
{
    json_t *value = zhive_json_from_msgpack (object);
    if (!value)
        return NULL;
    char *text = json_dumps (value, ZHIVE_JSON_DUMP_FLAGS);
    json_decref (value);
    return text;
}

//  ---------------------------------------------------------------------
//  JSON to msgpack

json_t *
zhive_json_parse (const char *text, size_t size, char *error, size_t error_size)
{
    json_error_t why;
    json_t *value = json_loadb (text, size, ZHIVE_JSON_LOAD_FLAGS, &why);
    if (!value && error && error_size) {
        if (why.line > 1 || (why.line == 1 && memchr (text, '\n', size)))
            snprintf (error, error_size, "line %d, column %d: %s", why.line, why.column, why.text);
        else if (why.column > 0)
            snprintf (error, error_size, "column %d: %s", why.column, why.text);
        else
            snprintf (error, error_size, "%s", why.text);
    }
    return value;
}

size_t
zhive_json_depth (const json_t *value)
{
    size_t deepest = 0;
    if (json_is_array (value)) {
        for (size_t index = 0; index < json_array_size (value); index++) {
            size_t depth = zhive_json_depth (json_array_get (value, index));
            deepest = depth > deepest ? depth : deepest;
        }
        return deepest + 1;
    }
    if (json_is_object (value)) {
        const char *key;
        json_t *item;
        json_object_foreach ((json_t *) value, key, item)
        {
            size_t depth = zhive_json_depth (item);
            deepest = depth > deepest ? depth : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

int
zhive_json_pack (zhive_pack_t *pack, const json_t *value)
{
    switch (json_typeof (value)) {
        case JSON_NULL: return zhive_pack_nil (pack);
        case JSON_TRUE: return zhive_pack_bool (pack, true);
        case JSON_FALSE: return zhive_pack_bool (pack, false);
        case JSON_INTEGER: return zhive_pack_int (pack, (int64_t) json_integer_value (value));
        case JSON_REAL: return zhive_pack_double (pack, json_real_value (value));
        case JSON_STRING:
            return zhive_pack_strn (pack, json_string_value (value), json_string_length (value));
        case JSON_ARRAY: {
            size_t size = json_array_size (value);
            if (size > UINT32_MAX || zhive_pack_array (pack, (uint32_t) size))
                return -1;
            for (size_t index = 0; index < size; index++)
                if (zhive_json_pack (pack, json_array_get (value, index)))
                    return -1;
            return 0;
        }
        case JSON_OBJECT: {
            size_t size = json_object_size (value);
            if (size > UINT32_MAX || zhive_pack_map (pack, (uint32_t) size))
                return -1;
            const char *key;
            size_t key_size;
            json_t *item;
            //  jansson keeps insertion order, so the map keeps the text's order
            json_object_keylen_foreach ((json_t *) value, key, key_size, item)
            {
                if (zhive_pack_strn (pack, key, key_size) || zhive_json_pack (pack, item))
                    return -1;
            }
            return 0;
        }
    }
    return -1;
}
