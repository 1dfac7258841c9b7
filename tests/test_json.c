/*  test_json - the CLI's msgpack -> JSON output: linear, and read back */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <sys/resource.h>
#include "zhive_json.h"
#include "zhive_json_writer.h"

//  Render packed bytes as JSON text (caller frees)
static char *
s_dumps (const zhive_pack_t *pack)
{
    char *text = zhive_json_writer_text (zhive_pack_data (pack), zhive_pack_size (pack));
    assert_non_null (text);
    return text;
}

//  Maps used as keys of maps, 20 levels: the output grows with the input,
//  not doubling per level (it printed 134 MB for 53 bytes), and reads back
static void
test_map_keys_linear (void **state)
{
    (void) state;
    enum { LEVELS = 20 };
    zhive_pack_t *pack = zhive_pack_new ();
    for (int level = 0; level < LEVELS; level++) {
        zhive_pack_map (pack, 1);    //  { <key>: 1 }, the key is the next level
    }
    zhive_pack_str (pack, "a\"b");
    for (int level = 0; level < LEVELS; level++)
        zhive_pack_int (pack, 1);
    char *text = s_dumps (pack);
    assert_true (strlen (text) < 100 * zhive_pack_size (pack));
    char why [256];
    json_t *back = zhive_json_parse (text, strlen (text), why, sizeof why);
    assert_non_null (back);
    assert_true (json_is_object (back));
    json_decref (back);
    free (text);
    zhive_pack_destroy (&pack);
}

//  Keys with NUL, not UTF-8, bin, array, scalars: always JSON zhive reads
static void
test_odd_keys_read_back (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_map (pack, 7);
    zhive_pack_strn (pack, "a\0b", 3);
    zhive_pack_int (pack, 1);
    zhive_pack_strn (pack, "\xff\xfe", 2);
    zhive_pack_int (pack, 2);
    zhive_pack_bytes (pack, "\x00\x01", 2);
    zhive_pack_int (pack, 3);
    zhive_pack_array (pack, 1);
    zhive_pack_int (pack, 9);
    zhive_pack_int (pack, 4);
    zhive_pack_int (pack, 42);
    zhive_pack_int (pack, 5);
    zhive_pack_str (pack, "plain");
    zhive_pack_int (pack, 6);
    zhive_pack_str (pack, "");
    zhive_pack_int (pack, 7);
    char *text = s_dumps (pack);
    char why [256];
    json_t *back = zhive_json_parse (text, strlen (text), why, sizeof why);
    assert_non_null (back);
    assert_int_equal (json_object_size (back), 7);
    assert_int_equal (json_integer_value (json_object_get (back, "42")), 5);
    assert_int_equal (json_integer_value (json_object_get (back, "plain")), 6);
    assert_int_equal (json_integer_value (json_object_get (back, "")), 7);
    assert_null (strstr (text, "\\u0000"));
    //  Every odd key is armoured the one way
    const char *key;
    json_t *value;
    int armoured = 0;
    json_object_foreach (back, key, value)
    {
        if (strncmp (key, "$msgpack:", 9) == 0)
            armoured++;
    }
    assert_int_equal (armoured, 4);
    json_decref (back);
    free (text);
    zhive_pack_destroy (&pack);
}

//  ---------------------------------------------------------------------
//  The streaming writer

//  Raw msgpack bytes from a string literal (sizeof - 1: may hold NUL)
#define S_RAW(pack, literal) zhive_pack_raw ((pack), (literal), sizeof (literal) - 1)

//  A varied set of values, one after another in one pack: every type and
//  width, escapes, UTF-8 good and bad, odd and duplicate keys, keys not in
//  msgpack-c's shortest form
static zhive_pack_t *
s_varied_values (void)
{
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_nil (pack);
    zhive_pack_bool (pack, true);
    zhive_pack_bool (pack, false);
    int64_t integers [] = { 0,         1,      127,    128,        255,
                            256,       65535,  65536,  UINT32_MAX, (int64_t) UINT32_MAX + 1,
                            INT64_MAX, -1,     -32,    -33,        -128,
                            -129,      -32768, -32769, INT32_MIN,  (int64_t) INT32_MIN - 1,
                            INT64_MIN };
    for (size_t i = 0; i < sizeof integers / sizeof integers [0]; i++)
        zhive_pack_int (pack, integers [i]);
    zhive_pack_uint (pack, (uint64_t) INT64_MAX + 1);
    zhive_pack_uint (pack, UINT64_MAX);
    double reals [] = {
        0.1,  1.0,    -0.0, 1e300, 5e-324, 1e16,     1e17,      0.0001,
        1e-5, 2.5e-7, 3e22, -1.5,  NAN,    INFINITY, -INFINITY, 123456789012345678.0
    };
    for (size_t i = 0; i < sizeof reals / sizeof reals [0]; i++)
        zhive_pack_double (pack, reals [i]);
    S_RAW (pack, "\xca\x3f\xc0\x00\x00");    //  float32 1.5
    S_RAW (pack, "\xca\x3d\xcc\xcc\xcd");    //  float32 0.1
    S_RAW (pack, "\xca\x7f\xc0\x00\x00");    //  float32 NaN
    S_RAW (pack, "\xd0\x05");                //  int8 5: not the shortest form
    S_RAW (pack, "\xcd\x00\x01");            //  uint16 1
    zhive_pack_str (pack, "");
    zhive_pack_str (pack, "plain");
    zhive_pack_str (pack, "\"\\/\b\f\n\r\t\x01\x1f\x7f end");
    zhive_pack_strn (pack, "a\0b", 3);
    zhive_pack_str (pack, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
    zhive_pack_str (pack, "\xc0\x80");            //  Overlong
    zhive_pack_str (pack, "\xed\xa0\x80");        //  Surrogate
    zhive_pack_str (pack, "\xf4\x90\x80\x80");    //  Past U+10FFFF
    zhive_pack_str (pack, "\xe2\x82");            //  Cut short
    zhive_pack_str (pack, "\xf5\x80\x80\x80");
    zhive_pack_str (pack, "\xe0\x9f\xbf");    //  Overlong 3-byte
    static char long_text [70000];
    memset (long_text, 'y', sizeof long_text);
    long_text [100] = '\n';
    zhive_pack_strn (pack, long_text, 300);
    zhive_pack_strn (pack, long_text, sizeof long_text);
    for (size_t size = 0; size <= 5; size++)
        zhive_pack_bytes (pack, "\x00\xff\x10\x20\x30", size);
    zhive_pack_bytes (pack, long_text, 300);
    const char *exts [] = { "\xd4\x01x",
                            "\xd5\xff"
                            "xy",
                            "\xd6\x05"
                            "abcd",
                            "\xd7\x80"
                            "abcdefgh",
                            "\xd8\x7f"
                            "abcdefghijklmnop",
                            "\xc7\x03\x02"
                            "abc",
                            "\xc7\x00\x02",
                            "\xc8\x00\x01\x09z" };
    size_t ext_sizes [] = { 3, 4, 6, 10, 18, 6, 3, 5 };
    for (size_t i = 0; i < 8; i++)
        zhive_pack_raw (pack, exts [i], ext_sizes [i]);
    zhive_pack_array (pack, 0);
    zhive_pack_map (pack, 0);
    zhive_pack_array (pack, 3);
    zhive_pack_int (pack, 1);
    zhive_pack_array (pack, 1);
    zhive_pack_array (pack, 0);
    zhive_pack_map (pack, 1);
    zhive_pack_str (pack, "k");
    zhive_pack_nil (pack);
    //  Keys of every kind
    zhive_pack_map (pack, 1);
    zhive_pack_array (pack, 4);    //  str8, str16 and bin8 in a key
    zhive_pack_strn (pack, long_text, 40);
    zhive_pack_strn (pack, long_text, 255);
    zhive_pack_strn (pack, long_text, 300);
    zhive_pack_bytes (pack, long_text, 40);
    zhive_pack_int (pack, 23);
    zhive_pack_map (pack, 22);
    zhive_pack_str (pack, "plain");
    zhive_pack_int (pack, 1);
    zhive_pack_int (pack, 42);
    zhive_pack_int (pack, 2);
    zhive_pack_int (pack, -7);
    zhive_pack_int (pack, 3);
    zhive_pack_uint (pack, UINT64_MAX);
    zhive_pack_int (pack, 4);
    zhive_pack_double (pack, 1.5);
    zhive_pack_int (pack, 5);
    zhive_pack_double (pack, NAN);
    zhive_pack_int (pack, 6);
    zhive_pack_double (pack, -INFINITY);
    zhive_pack_int (pack, 7);
    zhive_pack_nil (pack);
    zhive_pack_int (pack, 8);
    zhive_pack_bool (pack, true);
    zhive_pack_int (pack, 9);
    zhive_pack_bytes (pack, "\x00\x01", 2);
    zhive_pack_int (pack, 10);
    S_RAW (pack, "\xd4\x01x");
    zhive_pack_int (pack, 11);
    zhive_pack_array (pack, 2);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "x");
    zhive_pack_int (pack, 12);
    zhive_pack_map (pack, 1);
    zhive_pack_str (pack, "in");
    zhive_pack_nil (pack);
    zhive_pack_int (pack, 13);
    zhive_pack_strn (pack, "a\0b", 3);
    zhive_pack_int (pack, 14);
    zhive_pack_str (pack, "\xff\xfe");
    zhive_pack_int (pack, 15);
    zhive_pack_str (pack, "tab\there \"q\" \x01");
    zhive_pack_int (pack, 16);
    S_RAW (pack, "\x92\xd9\x02hi\xcd\x00\x05");    //  [str8 "hi", uint16 5]: packed shorter
    zhive_pack_int (pack, 17);
    S_RAW (pack, "\x91\xca\x3f\xc0\x00\x00");    //  [float32 1.5]
    zhive_pack_int (pack, 18);
    S_RAW (pack, "\x91\xc5\x00\x01z");    //  [bin16 "z"]
    zhive_pack_int (pack, 19);
    S_RAW (pack, "\x91\xc8\x00\x02\x05zz");    //  [ext16 of 2]
    zhive_pack_int (pack, 20);
    S_RAW (pack, "\x91\xdc\x00\x01\xc0");    //  [array16 [nil]]
    zhive_pack_int (pack, 21);
    zhive_pack_str (pack, "");
    zhive_pack_int (pack, 22);
    //  Keys that render the same: first place, last value
    zhive_pack_map (pack, 7);
    zhive_pack_str (pack, "a");
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "b");
    zhive_pack_int (pack, 2);
    zhive_pack_str (pack, "a");
    zhive_pack_int (pack, 3);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "int");
    zhive_pack_str (pack, "1");
    zhive_pack_str (pack, "str");
    S_RAW (pack, "\xd9\x01"
                 "b");           //  str8 "b"
    zhive_pack_map (pack, 2);    //  A value that is a map with duplicates too
    zhive_pack_nil (pack);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "null");
    zhive_pack_int (pack, 2);
    zhive_pack_str (pack, "a");
    zhive_pack_str (pack, "last");
    //  An armoured key and the str that reads the same
    zhive_pack_map (pack, 2);
    zhive_pack_array (pack, 0);
    zhive_pack_int (pack, 1);
    zhive_pack_str (pack, "$msgpack:kA==");
    zhive_pack_int (pack, 2);
    //  Many entries, keys repeating
    zhive_pack_map (pack, 1000);
    for (int entry = 0; entry < 1000; entry++) {
        if (entry % 3)
            zhive_pack_int (pack, entry % 37);
        else {
            char key [16];
            snprintf (key, sizeof key, "%d", entry % 41);
            zhive_pack_str (pack, key);
        }
        zhive_pack_int (pack, entry);
    }
    //  Many entries, all keys distinct (the index grows)
    zhive_pack_map (pack, 3000);
    for (int entry = 0; entry < 3000; entry++) {
        zhive_pack_int (pack, entry * 7919);
        zhive_pack_array (pack, 1);
        zhive_pack_int (pack, entry);
    }
    //  32 levels, the most there may be
    for (int level = 0; level < ZHIVE_DEPTH_MAX - 1; level++) {
        if (level % 2) {
            zhive_pack_map (pack, 1);
            zhive_pack_int (pack, level);
        }
        else
            zhive_pack_array (pack, 1);
    }
    zhive_pack_array (pack, 0);
    return pack;
}

//  Random values of every type, to depth 4 (seeded: the same each run)
static void
s_random_value (zhive_pack_t *pack, unsigned *seed, int depth)
{
    int kind = rand_r (seed) % (depth < 4 ? 12 : 9);
    char text [12];
    size_t size = (size_t) rand_r (seed) % sizeof text;
    for (size_t i = 0; i < size; i++)
        text [i] = (char) (rand_r (seed) % 4 ? 'a' + rand_r (seed) % 3 : rand_r (seed) % 256);
    switch (kind) {
        case 0: zhive_pack_nil (pack); break;
        case 1: zhive_pack_bool (pack, rand_r (seed) % 2); break;
        case 2: zhive_pack_int (pack, rand_r (seed) % 20 - 10); break;
        case 3:
            zhive_pack_int (pack,
                            (int64_t) rand_r (seed) * rand_r (seed) * (rand_r (seed) % 2 ? 1 : -1));
            break;
        case 4: zhive_pack_double (pack, (double) rand_r (seed) / (rand_r (seed) + 1)); break;
        case 5: zhive_pack_strn (pack, text, size); break;
        case 6: zhive_pack_bytes (pack, text, size); break;
        case 7: zhive_pack_str (pack, rand_r (seed) % 2 ? "k" : "1"); break;
        case 8: zhive_pack_uint (pack, UINT64_MAX - (uint64_t) rand_r (seed)); break;
        case 9:
        case 10: {
            uint32_t count = (uint32_t) rand_r (seed) % 5;
            if (kind == 9)
                zhive_pack_array (pack, count);
            else
                zhive_pack_map (pack, count);
            for (uint32_t item = 0; item < count * (kind == 10 ? 2 : 1); item++)
                s_random_value (pack, seed, depth + 1);
            break;
        }
        default: zhive_pack_raw (pack, "\xd5\x03zz", 4); break;
    }
}

//  FNV-1a of text, to check long expected texts
static uint64_t
s_fnv (uint64_t hash, const char *text, size_t size)
{
    for (size_t index = 0; index < size; index++)
        hash = (hash ^ (uint8_t) text [index]) * UINT64_C (1099511628211);
    return hash;
}

#define S_FNV_START UINT64_C (14695981039346656037)

//  What each value of the varied set rendered as on the tree path
//  (msgpack_unpack, then jansson's compact dump), before the writer took
//  its place: the text, or for a long one its length and FNV-1a
typedef struct {
    const char *text;    //  The JSON text, or NULL
    size_t size;         //  Length of a long text
    uint64_t hash;       //  FNV-1a of a long text
} s_expected_t;

#define S_TEXT(text)                                                                               \
    {                                                                                              \
        text, 0, 0                                                                                 \
    }
#define S_LONG(size, hash)                                                                         \
    {                                                                                              \
        NULL, size, hash                                                                           \
    }

static const s_expected_t s_varied_json [] = {
    S_TEXT ("null"),
    S_TEXT ("true"),
    S_TEXT ("false"),
    S_TEXT ("0"),
    S_TEXT ("1"),
    S_TEXT ("127"),
    S_TEXT ("128"),
    S_TEXT ("255"),
    S_TEXT ("256"),
    S_TEXT ("65535"),
    S_TEXT ("65536"),
    S_TEXT ("4294967295"),
    S_TEXT ("4294967296"),
    S_TEXT ("9223372036854775807"),
    S_TEXT ("-1"),
    S_TEXT ("-32"),
    S_TEXT ("-33"),
    S_TEXT ("-128"),
    S_TEXT ("-129"),
    S_TEXT ("-32768"),
    S_TEXT ("-32769"),
    S_TEXT ("-2147483648"),
    S_TEXT ("-2147483649"),
    S_TEXT ("-9223372036854775808"),
    S_TEXT ("9.2233720368547758e18"),
    S_TEXT ("1.8446744073709552e19"),
    S_TEXT ("0.10000000000000001"),
    S_TEXT ("1.0"),
    S_TEXT ("-0.0"),
    S_TEXT ("1.0000000000000001e300"),
    S_TEXT ("4.9406564584124654e-324"),
    S_TEXT ("10000000000000000.0"),
    S_TEXT ("1e17"),
    S_TEXT ("0.0001"),
    S_TEXT ("1.0000000000000001e-5"),
    S_TEXT ("2.4999999999999999e-7"),
    S_TEXT ("3e22"),
    S_TEXT ("-1.5"),
    S_TEXT ("\"NaN\""),
    S_TEXT ("\"Infinity\""),
    S_TEXT ("\"-Infinity\""),
    S_TEXT ("1.2345678901234568e17"),
    S_TEXT ("1.5"),
    S_TEXT ("0.10000000149011612"),
    S_TEXT ("\"NaN\""),
    S_TEXT ("5"),
    S_TEXT ("1"),
    S_TEXT ("\"\""),
    S_TEXT ("\"plain\""),
    S_TEXT ("\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001F\177 end\""),
    S_TEXT ("\"a\\u0000b\""),
    S_TEXT ("\"\303\251\342\202\254\360\237\230\200\364\217\277\277\""),
    S_TEXT ("{\"$bytes\":\"wIA=\"}"),
    S_TEXT ("{\"$bytes\":\"7aCA\"}"),
    S_TEXT ("{\"$bytes\":\"9JCAgA==\"}"),
    S_TEXT ("{\"$bytes\":\"4oI=\"}"),
    S_TEXT ("{\"$bytes\":\"9YCAgA==\"}"),
    S_TEXT ("{\"$bytes\":\"4J+/\"}"),
    S_TEXT ("\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
            "yyyyyyyyyyyyyyyy\\nyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
            "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
            "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\""),
    S_LONG (70003, UINT64_C (0x169dbbc57af160ea)),
    S_TEXT ("{\"$bytes\":\"\"}"),
    S_TEXT ("{\"$bytes\":\"AA==\"}"),
    S_TEXT ("{\"$bytes\":\"AP8=\"}"),
    S_TEXT ("{\"$bytes\":\"AP8Q\"}"),
    S_TEXT ("{\"$bytes\":\"AP8QIA==\"}"),
    S_TEXT ("{\"$bytes\":\"AP8QIDA=\"}"),
    S_LONG (413, UINT64_C (0xcb1d1cb6a99a40a9)),
    S_TEXT ("{\"$ext\":[1,\"eA==\"]}"),
    S_TEXT ("{\"$ext\":[-1,\"eHk=\"]}"),
    S_TEXT ("{\"$ext\":[5,\"YWJjZA==\"]}"),
    S_TEXT ("{\"$ext\":[-128,\"YWJjZGVmZ2g=\"]}"),
    S_TEXT ("{\"$ext\":[127,\"YWJjZGVmZ2hpamtsbW5vcA==\"]}"),
    S_TEXT ("{\"$ext\":[2,\"YWJj\"]}"),
    S_TEXT ("{\"$ext\":[2,\"\"]}"),
    S_TEXT ("{\"$ext\":[9,\"eg==\"]}"),
    S_TEXT ("[]"),
    S_TEXT ("{}"),
    S_TEXT ("[1,[[]],{\"k\":null}]"),
    S_LONG (876, UINT64_C (0xce45002eabe21e67)),
    S_TEXT ("{\"plain\":1,\"42\":2,\"-7\":3,\"1.8446744073709552e19\":4,\"1.5\":5,\"\\\"NaN\\\"\":"
            "6,\"\\\"-Infinity\\\"\":7,\"null\":8,\"true\":9,\"$msgpack:xAIAAQ==\":10,\"$msgpack:"
            "1AF4\":11,\"$msgpack:kgGheA==\":12,\"$msgpack:gaJpbsA=\":13,\"$msgpack:o2EAYg==\":14,"
            "\"$msgpack:ov/+\":15,\"tab\\there \\\"q\\\" "
            "\\u0001\":16,\"$msgpack:kqJoaQU=\":17,\"$msgpack:kco/"
            "wAAA\":18,\"$msgpack:kcQBeg==\":19,\"$msgpack:kdUFeno=\":20,\"$msgpack:kZHA\":21,\"\":"
            "22}"),
    S_TEXT ("{\"a\":\"last\",\"b\":{\"null\":2},\"1\":\"str\"}"),
    S_TEXT ("{\"$msgpack:kA==\":2}"),
    S_TEXT ("{\"0\":984,\"1\":926,\"2\":964,\"3\":987,\"4\":929,\"5\":967,\"6\":990,\"7\":932,"
            "\"8\":970,\"9\":993,\"10\":935,\"11\":973,\"12\":996,\"13\":938,\"14\":976,\"15\":999,"
            "\"16\":941,\"17\":979,\"18\":980,\"19\":944,\"20\":982,\"21\":983,\"22\":947,\"23\":"
            "985,\"24\":986,\"25\":950,\"26\":988,\"27\":989,\"28\":953,\"29\":991,\"30\":992,"
            "\"31\":956,\"32\":994,\"33\":995,\"34\":959,\"35\":997,\"36\":998,\"39\":900,\"37\":"
            "939,\"40\":942,\"38\":981}"),
    S_LONG (51483, UINT64_C (0xe5bfefb22ad0f7bb)),
    S_TEXT ("[{\"1\":[{\"3\":[{\"5\":[{\"7\":[{\"9\":[{\"11\":[{\"13\":[{\"15\":[{\"17\":[{\"19\":["
            "{\"21\":[{\"23\":[{\"25\":[{\"27\":[{\"29\":[[]]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}]"),
};

//  Every value of the varied set renders as it did on the tree path, and
//  3000 random values too (their texts, one a line, have the length and
//  FNV-1a they had)
static void
test_writer_matches_tree (void **state)
{
    (void) state;
    zhive_pack_t *varied = s_varied_values ();
    const char *data = zhive_pack_data (varied);
    size_t size = zhive_pack_size (varied);
    size_t values = 0;
    for (size_t offset = 0; offset < size; values++) {
        ssize_t length = zhive_msgpack_skip (data + offset, size - offset);
        assert_true (length > 0);
        assert_true (values < sizeof s_varied_json / sizeof s_varied_json [0]);
        const s_expected_t *expected = &s_varied_json [values];
        char *text = zhive_json_writer_text (data + offset, (size_t) length);
        assert_non_null (text);
        if (expected->text)
            assert_string_equal (text, expected->text);
        else {
            assert_int_equal (strlen (text), expected->size);
            assert_true (s_fnv (S_FNV_START, text, strlen (text)) == expected->hash);
        }
        free (text);
        offset += (size_t) length;
    }
    assert_int_equal (values, sizeof s_varied_json / sizeof s_varied_json [0]);
    zhive_pack_t *one = zhive_pack_new ();
    unsigned seed = 7;
    uint64_t hash = S_FNV_START;
    size_t total = 0;
    for (int round = 0; round < 3000; round++) {
        zhive_pack_reset (one);
        s_random_value (one, &seed, 0);
        char *text = s_dumps (one);
        hash = s_fnv (hash, text, strlen (text));
        hash = s_fnv (hash, "\n", 1);
        total += strlen (text) + 1;
        free (text);
    }
    assert_int_equal (total, 65575);
    assert_true (hash == UINT64_C (0xdce2a4f621bd140a));
    zhive_pack_destroy (&one);
    zhive_pack_destroy (&varied);
}

//  Bytes that are not exactly one valid value are refused, nothing written
static void
test_writer_refuses_bad_bytes (void **state)
{
    (void) state;
    const char *bad [] = { "",
                           "\x92\x01",
                           "\xc1",
                           "\x01\x02",
                           "\xa3"
                           "ab",
                           "\xd9" };
    size_t sizes [] = { 0, 2, 1, 2, 3, 1 };
    char *text = NULL;
    size_t length = 0;
    FILE *file = open_memstream (&text, &length);
    zhive_json_writer_t *writer = zhive_json_writer_new (file);
    assert_non_null (writer);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        assert_int_equal (zhive_json_writer_put (writer, bad [i], sizes [i]), -1);
        assert_null (zhive_json_writer_text (bad [i], sizes [i]));
    }
    //  Past ZHIVE_DEPTH_MAX
    char deep [ZHIVE_DEPTH_MAX + 2];
    memset (deep, 0x91, sizeof deep);
    deep [sizeof deep - 1] = 0x01;
    assert_int_equal (zhive_json_writer_put (writer, deep, sizeof deep), -1);
    assert_int_equal (zhive_json_writer_put (writer, deep + 1, sizeof deep - 1), 0);
    zhive_json_writer_destroy (&writer);
    zhive_json_writer_destroy (&writer);
    assert_null (writer);
    fclose (file);
    assert_string_equal (text, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    free (text);
}

//  Highest resident set size of this process so far, in bytes
static size_t
s_peak_rss (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (size_t) usage.ru_maxrss * 1024;
}

//  Write data as JSON to /dev/null; returns how far the peak memory rose
static size_t
s_peak_rise (const char *data, size_t size)
{
    FILE *sink = fopen ("/dev/null", "w");
    assert_non_null (sink);
    zhive_json_writer_t *writer = zhive_json_writer_new (sink);
    assert_non_null (writer);
    size_t before = s_peak_rss ();
    assert_int_equal (zhive_json_writer_put (writer, data, size), 0);
    size_t rise = s_peak_rss () - before;
    zhive_json_writer_destroy (&writer);
    fclose (sink);
    return rise;
}

//  A 40 MB array of nils, each a 24-byte msgpack_object and a json_t on
//  the tree path (+1.6 GB): written from its bytes, memory stays flat
static void
test_nil_array_memory (void **state)
{
    (void) state;
    size_t count = 40u << 20;
    char *data = (char *) malloc (count + 5);
    assert_non_null (data);
    data [0] = (char) 0xdd;
    for (int index = 0; index < 4; index++)
        data [1 + index] = (char) (count >> (24 - 8 * index));
    memset (data + 5, 0xc0, count);
    size_t rise = s_peak_rise (data, count + 5);
    print_message ("40 MB of nils: peak rose %zu KB\n", rise / 1024);
    assert_true (rise < 4 * count + (16u << 20));
    free (data);
}

//  A map of many distinct keys (uint32 keys, nil values: 6 bytes an
//  entry): only its index of keys, 5 bytes a slot, freed once it is known
//  to hold no duplicate
static void
test_distinct_keys_memory (void **state)
{
    (void) state;
    size_t count = 2000000;
    size_t size = 5 + 6 * count;
    uint8_t *data = (uint8_t *) malloc (size);
    assert_non_null (data);
    data [0] = 0xdf;
    for (int index = 0; index < 4; index++)
        data [1 + index] = (uint8_t) (count >> (24 - 8 * index));
    for (size_t entry = 0; entry < count; entry++) {
        uint8_t *at = data + 5 + 6 * entry;
        uint32_t key = (uint32_t) entry + 70000;
        at [0] = 0xce;
        for (int index = 0; index < 4; index++)
            at [1 + index] = (uint8_t) (key >> (24 - 8 * index));
        at [5] = 0xc0;
    }
    size_t rise = s_peak_rise ((const char *) data, size);
    print_message ("%zu bytes of distinct keys: peak rose %zu KB\n", size, rise / 1024);
    assert_true (rise < 4 * size + (16u << 20));
    free (data);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        //  First, smallest first: before other tests raise the peak
        cmocka_unit_test (test_distinct_keys_memory),
        cmocka_unit_test (test_nil_array_memory),
        cmocka_unit_test (test_map_keys_linear),
        cmocka_unit_test (test_odd_keys_read_back),
        cmocka_unit_test (test_writer_matches_tree),
        cmocka_unit_test (test_writer_refuses_bad_bytes),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
