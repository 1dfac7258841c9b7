/*  =========================================================================
    zhive_chunk - the chunked-map formats, both ways (private)

    A chunk carries many map items in one SUBMIT/TASK and their answers in
    one RESULT/DONE (docs/protocol.md, "Chunks"):

        request  = array of N argument arrays        [[a1...], [a2...], ...]
        answer   = array of N item answers, in order
        item     = [true, value] / [false, type, message, worker]

    The client builds requests and splits answers; the worker reads
    requests and builds answers. Both go through this file only. Readers
    check every byte (zhive_reader): nothing here trusts the peer.
    =========================================================================
*/
#ifndef ZHIVE_CHUNK_H_INCLUDED
#define ZHIVE_CHUNK_H_INCLUDED

#include "zhive_pack.h"
#include "zhive_result.h"
#include "zhive_reader.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  ---------------------------------------------------------------------
//  Requests (client)

//  Bytes of the request for count items whose msgpack values take bytes
//  in all; wrap: each item is one argument (map) and gets wrapped in a
//  one-element array, else each item is an argument array (starmap).
size_t zhive_chunk_request_size (size_t count, size_t bytes, bool wrap);

//  Write the request into dest (zhive_chunk_request_size bytes): the
//  items are values packed back to back in items, item i from offsets [i]
//  to offsets [i + 1]. Returns the bytes written.
size_t zhive_chunk_request_write (uint8_t *dest, const char *items, const size_t *offsets,
                                  size_t count, bool wrap);

//  ---------------------------------------------------------------------
//  Reading a request (worker)

//  Check that data is exactly an array of count values (any value: each
//  item's own shape is checked when it is read) and start a walk over
//  them. Returns 0, or -1 if it is not.
int zhive_chunk_request_open (zhive_reader_t *reader, const void *data, size_t size, size_t count);

//  The next item's bytes; 0, or -1 past the last.
int zhive_chunk_request_next (zhive_reader_t *reader, const char **item, size_t *size);

//  ---------------------------------------------------------------------
//  Answers (worker)

//  Start an answer of count items (resets the pack).
int zhive_chunk_answer_begin (zhive_pack_t *answer, size_t count);

//  Append an item's value: size bytes that are exactly one msgpack value
//  (size 0 packs nil).
int zhive_chunk_answer_ok (zhive_pack_t *answer, const void *value, size_t size);

//  Append an item's error.
int zhive_chunk_answer_error (zhive_pack_t *answer, const char *type, const char *message,
                              const char *worker);

//  ---------------------------------------------------------------------
//  Splitting an answer (client)

//  Check that data is an array of count item answers and start a walk.
//  Returns 0, or -1 if the header does not say count.
int zhive_chunk_answer_open (zhive_reader_t *reader, const void *data, size_t size, size_t count);

//  The next item's result: its value, or its error, or a Malformed error
//  if the item is not one of the two shapes. Returns NULL when the answer
//  is cut short (the reader is then at its end) or out of memory.
//  Caller owns the result.
zhive_result_t *zhive_chunk_answer_next (zhive_reader_t *reader);

#ifdef __cplusplus
}
#endif

#endif
