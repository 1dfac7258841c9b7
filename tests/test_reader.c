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

//  Every kind of value, packed by msgpack-c in every width: peek names its
//  kind, the reader of that kind reads what msgpack-c unpacks and ends
//  where it ends, readers of other kinds refuse it, and a cut value fails
static void
test_every_kind_matches_msgpack (void **state)
{
    (void) state;
    msgpack_sbuffer buffer;
    msgpack_sbuffer_init (&buffer);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buffer, msgpack_sbuffer_write);
    static char body [70000];
    memset (body, 'x', sizeof body);
    size_t lengths [] = { 0, 1, 2, 3, 4, 8, 16, 31, 32, 255, 256, 65535, 65536 };
    enum { LENGTHS = sizeof lengths / sizeof lengths [0] };
    msgpack_pack_nil (&pk);
    msgpack_pack_true (&pk);
    msgpack_pack_false (&pk);
    msgpack_pack_float (&pk, 1.5f);
    msgpack_pack_double (&pk, -0.1);
    msgpack_pack_int64 (&pk, -5);
    for (size_t i = 0; i < LENGTHS; i++) {
        msgpack_pack_str_with_body (&pk, body, lengths [i]);
        msgpack_pack_bin_with_body (&pk, body, lengths [i]);
        msgpack_pack_ext_with_body (&pk, body, lengths [i], (int8_t) (i - 5));
        msgpack_pack_array (&pk, lengths [i]);
        for (size_t item = 0; item < lengths [i]; item++)
            msgpack_pack_nil (&pk);
        msgpack_pack_map (&pk, lengths [i]);
        for (size_t item = 0; item < lengths [i]; item++) {
            msgpack_pack_uint32 (&pk, (uint32_t) item);
            msgpack_pack_nil (&pk);
        }
    }
    size_t offset = 0;
    size_t values = 0;
    zhive_reader_t reader;
    zhive_reader_init (&reader, buffer.data, buffer.size);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    while (offset < buffer.size) {
        size_t start = offset;
        assert_int_equal (msgpack_unpack_next (&unpacked, buffer.data, buffer.size, &offset),
                          MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *object = &unpacked.data;
        assert_ptr_equal (reader.data, (const uint8_t *) buffer.data + start);
        zhive_reader_kind_t kind = zhive_reader_peek (&reader);
        zhive_reader_t other = reader;
        bool flag;
        double number;
        int64_t integer;
        const char *ptr;
        size_t size;
        int8_t type;
        //  Readers of other kinds refuse it and leave the value readable
        if (kind != ZHIVE_READER_NIL)
            assert_int_equal (zhive_reader_nil (&other), -1);
        other = reader;
        if (kind != ZHIVE_READER_BOOL)
            assert_int_equal (zhive_reader_bool (&other, &flag), -1);
        other = reader;
        if (kind != ZHIVE_READER_FLOAT)
            assert_int_equal (zhive_reader_float (&other, &number), -1);
        other = reader;
        if (kind != ZHIVE_READER_BIN)
            assert_int_equal (zhive_reader_bin_ref (&other, &ptr, &size), -1);
        other = reader;
        if (kind != ZHIVE_READER_EXT)
            assert_int_equal (zhive_reader_ext_ref (&other, &type, &ptr, &size), -1);
        other = reader;
        if (kind != ZHIVE_READER_MAP)
            assert_int_equal (zhive_reader_map (&other, &size), -1);
        other = reader;
        if (kind != ZHIVE_READER_STR)
            assert_int_equal (zhive_reader_str_ref (&other, &ptr, &size), -1);
        //  The reader of its kind reads what msgpack-c unpacked
        switch (object->type) {
            case MSGPACK_OBJECT_NIL:
                assert_int_equal (kind, ZHIVE_READER_NIL);
                assert_int_equal (zhive_reader_nil (&reader), 0);
                break;
            case MSGPACK_OBJECT_BOOLEAN:
                assert_int_equal (kind, ZHIVE_READER_BOOL);
                assert_int_equal (zhive_reader_bool (&reader, &flag), 0);
                assert_int_equal (flag, object->via.boolean);
                break;
            case MSGPACK_OBJECT_FLOAT32:
            case MSGPACK_OBJECT_FLOAT64:
                assert_int_equal (kind, ZHIVE_READER_FLOAT);
                assert_int_equal (zhive_reader_float (&reader, &number), 0);
                assert_true (number == object->via.f64);
                break;
            case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                assert_int_equal (kind, ZHIVE_READER_INT);
                assert_int_equal (zhive_reader_int (&reader, &integer, NULL), 0);
                assert_true (integer == object->via.i64);
                break;
            case MSGPACK_OBJECT_STR:
                assert_int_equal (kind, ZHIVE_READER_STR);
                assert_int_equal (zhive_reader_str_ref (&reader, &ptr, &size), 0);
                assert_int_equal (size, object->via.str.size);
                if (size)
                    assert_ptr_equal (ptr, object->via.str.ptr);
                break;
            case MSGPACK_OBJECT_BIN:
                assert_int_equal (kind, ZHIVE_READER_BIN);
                assert_int_equal (zhive_reader_bin_ref (&reader, &ptr, &size), 0);
                assert_int_equal (size, object->via.bin.size);
                if (size)
                    assert_ptr_equal (ptr, object->via.bin.ptr);
                break;
            case MSGPACK_OBJECT_EXT:
                assert_int_equal (kind, ZHIVE_READER_EXT);
                assert_int_equal (zhive_reader_ext_ref (&reader, &type, &ptr, &size), 0);
                assert_int_equal (type, object->via.ext.type);
                assert_int_equal (size, object->via.ext.size);
                if (size)
                    assert_ptr_equal (ptr, object->via.ext.ptr);
                break;
            case MSGPACK_OBJECT_ARRAY:
                assert_int_equal (kind, ZHIVE_READER_ARRAY);
                assert_int_equal (zhive_reader_array (&reader, &size), 0);
                assert_int_equal (size, object->via.array.size);
                for (size_t item = 0; item < size; item++)
                    assert_int_equal (zhive_reader_nil (&reader), 0);
                break;
            case MSGPACK_OBJECT_MAP:
                assert_int_equal (kind, ZHIVE_READER_MAP);
                assert_int_equal (zhive_reader_map (&reader, &size), 0);
                assert_int_equal (size, object->via.map.size);
                for (size_t item = 0; item < size; item++) {
                    uint64_t key;
                    assert_int_equal (zhive_reader_uint (&reader, &key), 0);
                    assert_int_equal (key, object->via.map.ptr [item].key.via.u64);
                    assert_int_equal (zhive_reader_nil (&reader), 0);
                }
                break;
            default: fail ();
        }
        assert_ptr_equal (reader.data, (const uint8_t *) buffer.data + offset);
        //  Cut short anywhere inside a scalar or a header: its reader fails
        if (object->type != MSGPACK_OBJECT_ARRAY && object->type != MSGPACK_OBJECT_MAP)
            for (size_t cut = start; cut < offset; cut++) {
                zhive_reader_t short_reader;
                zhive_reader_init (&short_reader, buffer.data + start, cut - start);
                int rc = -1;
                switch (kind) {
                    case ZHIVE_READER_NIL: rc = zhive_reader_nil (&short_reader); break;
                    case ZHIVE_READER_BOOL: rc = zhive_reader_bool (&short_reader, &flag); break;
                    case ZHIVE_READER_FLOAT:
                        rc = zhive_reader_float (&short_reader, &number);
                        break;
                    case ZHIVE_READER_INT:
                        rc = zhive_reader_int (&short_reader, &integer, NULL);
                        break;
                    case ZHIVE_READER_STR:
                        rc = zhive_reader_str_ref (&short_reader, &ptr, &size);
                        break;
                    case ZHIVE_READER_BIN:
                        rc = zhive_reader_bin_ref (&short_reader, &ptr, &size);
                        break;
                    case ZHIVE_READER_EXT:
                        rc = zhive_reader_ext_ref (&short_reader, &type, &ptr, &size);
                        break;
                    default: fail ();
                }
                assert_int_equal (rc, -1);
            }
        values++;
    }
    assert_int_equal (values, 6 + 5 * LENGTHS);
    assert_int_equal (zhive_reader_peek (&reader), ZHIVE_READER_NONE);
    //  The one tag msgpack never uses has no kind
    zhive_reader_init (&reader, "\xc1", 1);
    assert_int_equal (zhive_reader_peek (&reader), ZHIVE_READER_NONE);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buffer);
}

//  measure walks as skip does and counts every value: the value itself,
//  each element, each key and each value of a map
static void
test_measure_counts_values (void **state)
{
    (void) state;
    struct {
        const char *bytes;    //  One msgpack value
        size_t size;          //  Its length
        size_t objects;       //  Values in it
    } cases [] = {
        { "\xc0", 1, 1 },
        { "\x90", 1, 1 },
        { "\x93\xc0\xc0\xc0", 4, 4 },
        { "\x82\x01\xc0\x02\x91\xc0", 6, 6 },
        { "\xa3"
          "abc",
          4, 1 },
        { "\x92\xc4\x02xy\xd4\x01z", 8, 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        size_t objects = 99, bytes = 99;
        assert_int_equal (zhive_msgpack_measure (cases [i].bytes, cases [i].size, &objects, &bytes),
                          (ssize_t) cases [i].size);
        assert_int_equal (objects, cases [i].objects);
        assert_int_equal (bytes, cases [i].objects * sizeof (msgpack_object));
        assert_int_equal (zhive_msgpack_skip (cases [i].bytes, cases [i].size),
                          (ssize_t) cases [i].size);
        assert_int_equal (zhive_msgpack_measure (cases [i].bytes, cases [i].size, NULL, NULL),
                          (ssize_t) cases [i].size);
        //  Cut short: -1 and nothing measured
        assert_int_equal (
            zhive_msgpack_measure (cases [i].bytes, cases [i].size - 1, &objects, &bytes), -1);
        assert_int_equal (objects, 0);
        assert_int_equal (bytes, 0);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_integers_every_width),
        cmocka_unit_test (test_strings_and_arrays),
        cmocka_unit_test (test_skip_matches_msgpack),
        cmocka_unit_test (test_every_kind_matches_msgpack),
        cmocka_unit_test (test_measure_counts_values),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
