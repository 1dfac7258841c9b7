/*  =========================================================================
    zhive_chunk - the chunked-map formats, both ways
    =========================================================================
*/
#include "zhive_chunk.h"
#include "zhive_proto.h"
#include <stdlib.h>
#include <string.h>

//  A msgpack array header for count items: its size in bytes
static size_t
s_array_header_size (size_t count)
{
    return count < 16 ? 1 : count < 65536 ? 3 : 5;
}

static size_t
s_write_array_header (uint8_t *dest, size_t count)
{
    if (count < 16) {
        dest [0] = (uint8_t) (0x90 | count);
        return 1;
    }
    if (count < 65536) {
        dest [0] = 0xdc;
        dest [1] = (uint8_t) (count >> 8);
        dest [2] = (uint8_t) count;
        return 3;
    }
    dest [0] = 0xdd;
    for (int i = 0; i < 4; i++)
        dest [1 + i] = (uint8_t) (count >> (24 - 8 * i));
    return 5;
}

size_t
zhive_chunk_request_size (size_t count, size_t bytes, bool wrap)
{
    return s_array_header_size (count) + bytes + (wrap ? count : 0);
}

size_t
zhive_chunk_request_write (uint8_t *dest, const char *items, const size_t *offsets, size_t count,
                           bool wrap)
{
    uint8_t *p = dest + s_write_array_header (dest, count);
    if (!wrap) {
        size_t bytes = offsets [count] - offsets [0];
        if (bytes)
            memcpy (p, items + offsets [0], bytes);
        p += bytes;
    }
    else
        for (size_t i = 0; i < count; i++) {
            size_t length = offsets [i + 1] - offsets [i];
            *p++ = 0x91;
            if (length)
                memcpy (p, items + offsets [i], length);
            p += length;
        }
    return (size_t) (p - dest);
}

int
zhive_chunk_request_open (zhive_reader_t *reader, const void *data, size_t size, size_t count)
{
    zhive_reader_init (reader, data, size);
    size_t entries;
    if (zhive_msgpack_skip (data, size) != (ssize_t) size ||
        zhive_reader_array (reader, &entries) || entries != count)
        return -1;
    return 0;
}

int
zhive_chunk_request_next (zhive_reader_t *reader, const char **item, size_t *size)
{
    const uint8_t *start = reader->data;
    if (zhive_reader_left (reader) == 0 || zhive_reader_skip (reader))
        return -1;
    *item = (const char *) start;
    *size = (size_t) (reader->data - start);
    return 0;
}

int
zhive_chunk_answer_begin (zhive_pack_t *answer, size_t count)
{
    zhive_pack_reset (answer);
    return zhive_pack_array (answer, (uint32_t) count);
}

int
zhive_chunk_answer_ok (zhive_pack_t *answer, const void *value, size_t size)
{
    if (zhive_pack_array (answer, 2) || zhive_pack_bool (answer, true))
        return -1;
    return size ? zhive_pack_raw (answer, value, size) : zhive_pack_nil (answer);
}

int
zhive_chunk_answer_error (zhive_pack_t *answer, const char *type, const char *message,
                          const char *worker)
{
    if (zhive_pack_array (answer, 4) || zhive_pack_bool (answer, false) ||
        zhive_pack_str (answer, type ? type : ZHIVE_ERR_HANDLER) ||
        zhive_pack_str (answer, message ? message : "") ||
        zhive_pack_str (answer, worker ? worker : ""))
        return -1;
    return 0;
}

int
zhive_chunk_answer_open (zhive_reader_t *reader, const void *data, size_t size, size_t count)
{
    zhive_reader_init (reader, data, size);
    size_t entries;
    if (zhive_reader_array (reader, &entries) || entries != count)
        return -1;
    return 0;
}

//  The error of an item [false, type, message, worker?], or NULL if the
//  item is not one
static zhive_result_t *
s_item_error (zhive_reader_t *item, size_t fields)
{
    char type [ZHIVE_NAME_MAX + 1];
    char worker [ZHIVE_NAME_MAX + 1] = "";
    char *message = NULL;
    zhive_result_t *result = NULL;
    if (fields >= 3 && fields <= 4 && zhive_reader_str (item, type, ZHIVE_NAME_MAX) == 0 &&
        zhive_reader_str_alloc (item, &message, ZHIVE_MESSAGE_MAX) == 0 &&
        (fields == 3 || zhive_reader_str (item, worker, ZHIVE_NAME_MAX) == 0))
        result = zhive_result_new_error (type, message, worker);
    free (message);
    return result;
}

zhive_result_t *
zhive_chunk_answer_next (zhive_reader_t *reader)
{
    const uint8_t *start = reader->data;
    if (zhive_reader_left (reader) == 0 || zhive_reader_skip (reader))
        return NULL;
    size_t size = (size_t) (reader->data - start);
    //  Its own bytes only: one whole value, already checked by the skip
    zhive_reader_t item;
    zhive_reader_init (&item, start, size);
    size_t fields;
    if (zhive_reader_array (&item, &fields) == 0 && fields >= 2 && zhive_reader_left (&item) > 0) {
        uint8_t flag = *item.data++;
        if (flag == 0xc3 && fields == 2)
            return zhive_result_new_value (item.data, zhive_reader_left (&item));
        if (flag == 0xc2) {
            zhive_result_t *error = s_item_error (&item, fields);
            if (error)
                return error;
        }
    }
    return zhive_result_new_error (ZHIVE_ERR_MALFORMED,
                                   "a chunk's item answer is not [true, value] or "
                                   "[false, type, message, worker]",
                                   "");
}
