/*  fuzz_chunk - libFuzzer harness for the chunked-map formats (common/zhive_chunk)

    Input: 2 bytes big-endian item count, 1 flags byte (bit 0: wrap), then the
    bytes, read both as a chunk answer and as a chunk request.
    Answer: the walk never crashes and every item yields a result until the
    walk ends; the results, written back with zhive_chunk_answer_ok/error, read
    back as the same results.
    Request: an accepted request yields exactly count items; a request written
    by zhive_chunk_request_write from those items reads back the same items
    (each wrapped in a one-element array when wrap).
*/
#include "zhive_chunk.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_fail (const char *why)
{
    fprintf (stderr, "fuzz_chunk: %s\n", why);
    abort ();
}

static bool
s_same_result (const zhive_result_t *a, const zhive_result_t *b)
{
    if (zhive_result_ok (a) != zhive_result_ok (b))
        return false;
    if (zhive_result_ok (a)) {
        size_t a_size, b_size;
        const char *a_data = zhive_result_data (a, &a_size);
        const char *b_data = zhive_result_data (b, &b_size);
        return a_size == b_size && memcmp (a_data, b_data, a_size) == 0;
    }
    return strcmp (zhive_result_error_type (a), zhive_result_error_type (b)) == 0 &&
           strcmp (zhive_result_error_message (a), zhive_result_error_message (b)) == 0 &&
           strcmp (zhive_result_error_worker (a), zhive_result_error_worker (b)) == 0;
}

//  The data as an answer of count items
static void
s_answer (const uint8_t *data, size_t size, size_t count)
{
    zhive_reader_t reader;
    if (zhive_chunk_answer_open (&reader, data, size, count))
        return;
    //  Each item takes a byte at least: no more than size results
    size_t cap = count < size ? count : size;
    zhive_result_t **results = (zhive_result_t **) calloc (cap + 1, sizeof *results);
    zhive_pack_t *answer = zhive_pack_new ();
    if (!results || !answer || zhive_chunk_answer_begin (answer, count))
        abort ();
    size_t got = 0;
    for (; got < cap; got++) {
        const uint8_t *before = reader.data;
        results [got] = zhive_chunk_answer_next (&reader);
        if (reader.data < before || reader.data > reader.end)
            s_fail ("answer walk moved outside its bytes");
        if (!results [got])
            break;
        const zhive_result_t *r = results [got];
        int rc;
        if (zhive_result_ok (r)) {
            size_t value_size;
            const char *value = zhive_result_data (r, &value_size);
            if (!value || value_size == 0 ||
                zhive_msgpack_skip (value, value_size) != (ssize_t) value_size)
                s_fail ("an item's value is not one msgpack value");
            rc = zhive_chunk_answer_ok (answer, value, value_size);
        }
        else
            rc = zhive_chunk_answer_error (answer, zhive_result_error_type (r),
                                           zhive_result_error_message (r),
                                           zhive_result_error_worker (r));
        if (rc)
            s_fail ("an item's result cannot be written back");
    }
    if (got == cap && cap < count) {
        zhive_result_t *more = zhive_chunk_answer_next (&reader);
        if (more)
            s_fail ("an answer yields more items than it has bytes");
    }
    //  Every item got a result: the answer written back says the same
    if (got == count) {
        zhive_reader_t again;
        if (zhive_chunk_answer_open (&again, zhive_pack_data (answer), zhive_pack_size (answer),
                                     count))
            s_fail ("a written answer does not open");
        for (size_t i = 0; i < count; i++) {
            zhive_result_t *r = zhive_chunk_answer_next (&again);
            if (!r || !s_same_result (r, results [i]))
                s_fail ("a written answer reads back otherwise");
            zhive_result_destroy (&r);
        }
        if (zhive_reader_left (&again) != 0)
            s_fail ("a written answer has bytes left over");
    }
    for (size_t i = 0; i < got; i++)
        zhive_result_destroy (&results [i]);
    free (results);
    zhive_pack_destroy (&answer);
}

//  The data as a request of count items
static void
s_request (const uint8_t *data, size_t size, size_t count, bool wrap)
{
    zhive_reader_t reader;
    if (zhive_chunk_request_open (&reader, data, size, count))
        return;
    char *items = (char *) malloc (size ? size : 1);
    size_t *offsets = (size_t *) calloc (count + 1, sizeof *offsets);
    if (!items || !offsets)
        abort ();
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        const char *item;
        size_t item_size;
        if (zhive_chunk_request_next (&reader, &item, &item_size))
            s_fail ("an accepted request has fewer items than it says");
        memcpy (items + bytes, item, item_size);
        bytes += item_size;
        offsets [i + 1] = bytes;
    }
    const char *extra;
    size_t extra_size;
    if (zhive_chunk_request_next (&reader, &extra, &extra_size) == 0)
        s_fail ("an accepted request has more items than it says");

    size_t request_size = zhive_chunk_request_size (count, bytes, wrap);
    uint8_t *request = (uint8_t *) malloc (request_size);
    if (!request)
        abort ();
    if (zhive_chunk_request_write (request, items, offsets, count, wrap) != request_size)
        s_fail ("zhive_chunk_request_write wrote another size than zhive_chunk_request_size");
    //  Wrapped items are a level deeper: only a value within the depth opens
    bool valid = zhive_msgpack_skip (request, request_size) == (ssize_t) request_size;
    if (!wrap && !valid)
        s_fail ("a request written from valid items is not valid");
    if (valid) {
        if (zhive_chunk_request_open (&reader, request, request_size, count))
            s_fail ("a written request does not open");
        for (size_t i = 0; i < count; i++) {
            const char *item;
            size_t item_size;
            const char *want = items + offsets [i];
            size_t want_size = offsets [i + 1] - offsets [i];
            if (zhive_chunk_request_next (&reader, &item, &item_size))
                s_fail ("a written request is cut short");
            if (wrap) {
                if (item_size != want_size + 1 || (uint8_t) item [0] != 0x91)
                    s_fail ("a wrapped item is not a one-element array");
                item++;
                item_size--;
            }
            if (item_size != want_size || memcmp (item, want, want_size))
                s_fail ("a written request reads back other items");
        }
    }
    free (request);
    free (offsets);
    free (items);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t count = ((size_t) data [0] << 8) | data [1];
    bool wrap = data [2] & 1;
    s_answer (data + 3, size - 3, count);
    s_request (data + 3, size - 3, count, wrap);
    return 0;
}
