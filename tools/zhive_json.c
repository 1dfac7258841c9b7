/*  =========================================================================
    zhive_json - JSON <-> msgpack for the zhive command line tool

    jansson parses; this file walks the parsed tree and packs it. Parsed
    JSON is at most JSON_PARSER_MAX_DEPTH deep, so the recursion here is
    bounded. msgpack -> JSON is zhive_json_writer, which builds no tree.
    =========================================================================
*/
#include "zhive_json.h"
#include "zhive_json_key.h"
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
    char *text = (char *) malloc ((size + 2) / 3 * 4 + 1);
    if (text)
        text [zhive_json_key_base64 (data, size, text)] = 0;
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
