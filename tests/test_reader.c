/*  test_reader - the untrusted msgpack reader, checked against msgpack-c */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>
#include "zhive_pack.h"
#include "zhive_reader.h"

static void
test_integers_every_width (void **state)
{
    (void) state;
    int64_t values [] = {
        0,  1,   127, 128,  255,  256,    65535,  65536,     INT32_MAX,     4294967295LL, INT64_MAX,
        -1, -32, -33, -128, -129, -32768, -32769, INT32_MIN, -2147483649LL, INT64_MIN
    };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        msgpack_pack_int64 (&pk, values [i]);
        zhive_reader_t reader;
        zhive_reader_init (&reader, buffer.data, buffer.size);
        int64_t out;
        assert_int_equal (zhive_reader_int (&reader, &out, NULL), 0);
        assert_true (out == values [i]);
        assert_int_equal (zhive_reader_left (&reader), 0);
        //  Every truncation fails
        for (size_t cut = 0; cut < buffer.size; cut++) {
            zhive_reader_init (&reader, buffer.data, cut);
            assert_int_equal (zhive_reader_int (&reader, &out, NULL), -1);
        }
        //  uint refuses a negative
        zhive_reader_init (&reader, buffer.data, buffer.size);
        uint64_t uout;
        assert_int_equal (zhive_reader_uint (&reader, &uout), values [i] < 0 ? -1 : 0);
        msgpack_sbuffer_destroy (&buffer);
    }
    //  A uint64 above INT64_MAX is flagged, and uint takes it
    uint8_t big [] = { 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe };
    zhive_reader_t reader;
    zhive_reader_init (&reader, big, sizeof big);
    int64_t out;
    bool is_big;
    assert_int_equal (zhive_reader_int (&reader, &out, &is_big), 0);
    assert_true (is_big);
    zhive_reader_init (&reader, big, sizeof big);
    uint64_t uout;
    assert_int_equal (zhive_reader_uint (&reader, &uout), 0);
    assert_true (uout == UINT64_MAX - 1);
    //  Not an integer
    uint8_t str [] = { 0xa1, 'x' };
    zhive_reader_init (&reader, str, sizeof str);
    assert_int_equal (zhive_reader_int (&reader, &out, NULL), -1);
}

static void
test_strings_and_arrays (void **state)
{
    (void) state;
    size_t lengths [] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths [0]; i++) {
        char *text = (char *) malloc (lengths [i] + 1);
        memset (text, 'a', lengths [i]);
        msgpack_sbuffer buffer;
        msgpack_sbuffer_init (&buffer);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, (size_t) lengths [i]);
        msgpack_pack_str (&pk, lengths [i]);
        msgpack_pack_str_body (&pk, text, lengths [i]);
        zhive_reader_t reader;
        zhive_reader_init (&reader, buffer.data, buffer.size);
        size_t count;
        assert_int_equal (zhive_reader_array (&reader, &count), 0);
        assert_int_equal (count, lengths [i]);
        size_t header_count;
        assert_int_equal (zhive_msgpack_array_header (buffer.data, buffer.size, &header_count),
                          lengths [i] < 16      ? 1
                          : lengths [i] < 65536 ? 3
                                                : 5);
        assert_int_equal (header_count, lengths [i]);
        const char *ptr;
        size_t size;
        assert_int_equal (zhive_reader_str_ref (&reader, &ptr, &size), 0);
        assert_int_equal (size, lengths [i]);
        assert_memory_equal (ptr, text, size);
        assert_int_equal (zhive_reader_left (&reader), 0);
        //  Into a field: refused when longer than the field
        char field [300];
        zhive_reader_init (&reader, buffer.data, buffer.size);
        assert_int_equal (zhive_reader_array (&reader, &count), 0);
        assert_int_equal (zhive_reader_str (&reader, field, 255), lengths [i] <= 255 ? 0 : -1);
        //  A declared length past the end fails
        zhive_reader_init (&reader, buffer.data, buffer.size - 1);
        assert_int_equal (zhive_reader_array (&reader, &count), 0);
        assert_int_equal (zhive_reader_str_ref (&reader, &ptr, &size), -1);
        free (text);
        msgpack_sbuffer_destroy (&buffer);
    }
    //  A str holding a NUL is refused as a C string, allowed as a ref
    uint8_t nul [] = { 0xa3, 'a', 0, 'b' };
    zhive_reader_t reader;
    char field [8];
    zhive_reader_init (&reader, nul, sizeof nul);
    assert_int_equal (zhive_reader_str (&reader, field, 7), -1);
    char *copy = NULL;
    zhive_reader_init (&reader, nul, sizeof nul);
    assert_int_equal (zhive_reader_str_alloc (&reader, &copy, 100), -1);
    assert_null (copy);
    uint8_t ok [] = { 0xa2, 'h', 'i' };
    zhive_reader_init (&reader, ok, sizeof ok);
    assert_int_equal (zhive_reader_str_alloc (&reader, &copy, 100), 0);
    assert_string_equal (copy, "hi");
    free (copy);
    //  A bin is not a str
    uint8_t bin [] = { 0xc4, 1, 'x' };
    const char *ptr;
    size_t size;
    zhive_reader_init (&reader, bin, sizeof bin);
    assert_int_equal (zhive_reader_str_ref (&reader, &ptr, &size), -1);
}

//  skip steps over exactly what msgpack-c's unpacker consumes
static void
test_skip_matches_msgpack (void **state)
{
    (void) state;
    zhive_pack_t *pack = zhive_pack_new ();
    zhive_pack_array (pack, 4);
    zhive_pack_map (pack, 2);
    zhive_pack_str (pack, "k");
    zhive_pack_array (pack, 0);
    zhive_pack_str (pack, "");
    zhive_pack_bytes (pack, "\x01\x02", 2);
    zhive_pack_double (pack, 1.5);
    zhive_pack_nil (pack);
    zhive_pack_int (pack, -70000);
    zhive_pack_str (pack, "after");
    const char *data = zhive_pack_data (pack);
    size_t size = zhive_pack_size (pack);
    size_t offset = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    assert_int_equal (msgpack_unpack_next (&unpacked, data, size, &offset), MSGPACK_UNPACK_SUCCESS);
    zhive_reader_t reader;
    zhive_reader_init (&reader, data, size);
    assert_int_equal (zhive_reader_skip (&reader), 0);
    assert_int_equal ((size_t) ((const char *) reader.data - data), offset);
    const char *ptr;
    size_t length;
    assert_int_equal (zhive_reader_str_ref (&reader, &ptr, &length), 0);
    assert_int_equal (length, 5);
    assert_int_equal (zhive_reader_skip (&reader), -1);    //  Nothing left
    //  Truncated anywhere: skip fails
    for (size_t cut = 0; cut < offset; cut++) {
        zhive_reader_init (&reader, data, cut);
        assert_int_equal (zhive_reader_skip (&reader), -1);
    }
    msgpack_unpacked_destroy (&unpacked);
    zhive_pack_destroy (&pack);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_integers_every_width),
        cmocka_unit_test (test_strings_and_arrays),
        cmocka_unit_test (test_skip_matches_msgpack),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
