/*  fuzz_json - libFuzzer harness for JSON <-> msgpack (tools/zhive_json)

    The input is JSON text. For text that parses (zhive_json_parse) and is
    within ZHIVE_DEPTH_MAX: pack it (zhive_json_pack), render the msgpack
    bytes back to text with the CLI's streaming writer
    (zhive_json_writer_text) and parse that: the two values must be equal
    (json_equal). Object keys holding a NUL byte are left out:
    the msgpack -> JSON mapping renders such a key as "$msgpack:..." on
    purpose (tools/zhive_json.h).
*/
#include "zhive_json.h"
#include "zhive_json_writer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  True if any object key in the value holds a NUL byte
static bool
s_has_nul_key (json_t *value)
{
    if (json_is_array (value)) {
        for (size_t i = 0; i < json_array_size (value); i++)
            if (s_has_nul_key (json_array_get (value, i)))
                return true;
    }
    else if (json_is_object (value)) {
        const char *key;
        size_t key_size;
        json_t *item;
        json_object_keylen_foreach (value, key, key_size, item)
        {
            if (memchr (key, 0, key_size) || s_has_nul_key (item))
                return true;
        }
    }
    return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char error [200];
    json_t *first = zhive_json_parse ((const char *) data, size, error, sizeof error);
    if (!first)
        return 0;
    if (zhive_json_depth (first) > ZHIVE_DEPTH_MAX || s_has_nul_key (first)) {
        json_decref (first);
        return 0;
    }
    zhive_pack_t *pack = zhive_pack_new ();
    if (!pack || zhive_json_pack (pack, first))
        abort ();
    char *text = zhive_json_writer_text (zhive_pack_data (pack), zhive_pack_size (pack));
    if (!text) {
        fprintf (stderr, "fuzz_json: packed JSON does not render\n");
        abort ();
    }
    json_t *second = zhive_json_parse (text, strlen (text), error, sizeof error);
    if (!second) {
        fprintf (stderr, "fuzz_json: rendered JSON does not parse: %s\n%s\n", error, text);
        abort ();
    }
    if (!json_equal (first, second)) {
        char *was = json_dumps (first, ZHIVE_JSON_DUMP_FLAGS);
        fprintf (stderr, "fuzz_json: round trip changed the value\nwas:  %s\nnow:  %s\n", was,
                 text);
        free (was);
        abort ();
    }
    json_decref (second);
    free (text);
    zhive_pack_destroy (&pack);
    json_decref (first);
    return 0;
}
