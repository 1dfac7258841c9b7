/*  =========================================================================
    zhive_private - declarations shared inside libzhive, not public
    =========================================================================
*/
#ifndef ZHIVE_PRIVATE_H_INCLUDED
#define ZHIVE_PRIVATE_H_INCLUDED

#include <zmq.h>
#include "zhive_pack.h"
#include "zhive_result.h"

//  Set the input position of a map result.
void zhive_result_set_index (zhive_result_t *self, size_t index);

//  If data starts with a msgpack array header, its size in bytes (1, 3 or
//  5) and the element count in *count; else 0. Checks only the header.
size_t zhive_msgpack_array_header (const void *data, size_t size, size_t *count);

//  The packer writing into a zhive_pack_t, for code that packs with
//  msgpack-c directly (the codec's headers).
msgpack_packer *zhive_pack_packer (zhive_pack_t *self);

//  Payloads at least this big travel without copies where zhive can
//  avoid them (results keep their frame, worker replies hand over their
//  buffer); smaller ones are cheaper to copy.
#define ZHIVE_ZERO_COPY_MIN 4096

//  A result holding a received frame: moved in (not copied) when large.
//  The frame is left empty. Returns NULL only if out of memory.
zhive_result_t *zhive_result_new_frame (zmq_msg_t *frame);

//  Take a zhive_pack_t's buffer (caller frees it) and leave the pack empty.
char *zhive_pack_detach (zhive_pack_t *self, size_t *size);

//  Monotonic clock in milliseconds.
int64_t zhive_clock_ms (void);

#endif
