/*  =========================================================================
    zhive_private - declarations shared inside libzhive, not public
    =========================================================================
*/
#ifndef ZHIVE_PRIVATE_H_INCLUDED
#define ZHIVE_PRIVATE_H_INCLUDED

#include <zmq.h>
#include "zhive_pack.h"
#include "zhive_result.h"
#include "zhive_reader.h"
#include "zhive_clock.h"

//  Set the input position of a map result.
void zhive_result_set_index (zhive_result_t *self, size_t index);

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

#endif
