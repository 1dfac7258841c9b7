/*  fuzz_proto - libFuzzer harness for the wire codec (common/zhive_proto)

    The input is a multipart message after the routing id, in frames:
        frame = length (2 bytes, big-endian) + that many bytes
    a length past the end of the input takes what is left, and up to five
    frames are read (a fourth frame is "too many" to the decoder). Every
    message that decodes is encoded again with the sender's encoder and
    decoded again: the two decoded messages must be the same in every
    field, else the harness aborts.
*/
#include "zhive_proto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FRAMES_MAX 5

//  Fails the run with a reason
static void
s_fail (const char *why, int command)
{
    fprintf (stderr, "fuzz_proto: %s (command %s)\n", why, zhive_proto_command_name (command));
    abort ();
}

//  Splits the input into frames; returns how many
static size_t
s_split (const uint8_t *data, size_t size, zmq_msg_t *frames)
{
    size_t count = 0;
    while (size > 0 && count < S_FRAMES_MAX) {
        size_t length = data [0];
        if (size >= 2)
            length = (length << 8) | data [1];
        size_t prefix = size >= 2 ? 2 : 1;
        data += prefix;
        size -= prefix;
        if (length > size)
            length = size;
        zmq_msg_init_size (&frames [count], length);
        if (length)
            memcpy (zmq_msg_data (&frames [count]), data, length);
        count++;
        data += length;
        size -= length;
    }
    return count;
}

static bool
s_same_str (const char *a, const char *b)
{
    return strcmp (a ? a : "", b ? b : "") == 0 && (a == NULL) == (b == NULL);
}

//  Every field the decoder sets, compared
static void
s_compare (zhive_proto_t *a, zhive_proto_t *b)
{
    int command = a->command;
    if (a->command != b->command)
        s_fail ("command differs", command);
    if (a->id != b->id)
        s_fail ("id differs", command);
    if (strcmp (a->function, b->function))
        s_fail ("function differs", command);
    if (a->timeout_ms != b->timeout_ms)
        s_fail ("timeout_ms differs", command);
    if (a->retries != b->retries)
        s_fail ("retries differs", command);
    if (a->chunk != b->chunk)
        s_fail ("chunk differs", command);
    if (strcmp (a->type, b->type))
        s_fail ("type differs", command);
    if (!s_same_str (a->message, b->message))
        s_fail ("message differs", command);
    if (strcmp (a->worker, b->worker))
        s_fail ("worker differs", command);
    if (strcmp (a->host, b->host))
        s_fail ("host differs", command);
    if (a->pid != b->pid)
        s_fail ("pid differs", command);
    if (a->concurrency != b->concurrency)
        s_fail ("concurrency differs", command);
    if (a->max_tasks != b->max_tasks)
        s_fail ("max_tasks differs", command);
    if (a->functions_count != b->functions_count)
        s_fail ("functions_count differs", command);
    for (size_t i = 0; i < a->functions_count; i++)
        if (strcmp (a->functions [i], b->functions [i]))
            s_fail ("a function name differs", command);
    if (a->has_payload != b->has_payload)
        s_fail ("has_payload differs", command);
    if (a->has_payload && (zmq_msg_size (&a->payload) != zmq_msg_size (&b->payload) ||
                           memcmp (zmq_msg_data (&a->payload), zmq_msg_data (&b->payload),
                                   zmq_msg_size (&a->payload))))
        s_fail ("payload differs", command);
    if (a->routing_size || b->routing_size)
        s_fail ("routing set by decode", command);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    zmq_msg_t frames [S_FRAMES_MAX];
    size_t count = s_split (data, size, frames);
    zhive_proto_t *first = zhive_proto_new ();
    zhive_proto_t *second = zhive_proto_new ();
    if (!first || !second)
        abort ();
    int rc = zhive_proto_decode (first, frames, count);
    if (rc != 0 && rc != -2)
        s_fail ("decode returned neither 0 nor -2", first->command);
    if (rc == -2 && (first->error [0] == 0 || first->has_payload))
        s_fail ("malformed without a reason, or with a payload", first->command);
    if (rc == 0) {
        uint8_t sig [5];
        const void *header;
        size_t header_size;
        if (zhive_proto_encode (first, sig, &header, &header_size))
            s_fail ("a decoded message does not encode", first->command);
        zmq_msg_t again [3];
        size_t again_count = 2;
        zmq_msg_init_size (&again [0], sizeof sig);
        memcpy (zmq_msg_data (&again [0]), sig, sizeof sig);
        zmq_msg_init_size (&again [1], header_size);
        if (header_size)
            memcpy (zmq_msg_data (&again [1]), header, header_size);
        if (first->has_payload) {
            zmq_msg_init (&again [2]);
            zmq_msg_copy (&again [2], &first->payload);
            again_count = 3;
        }
        if (zhive_proto_decode (second, again, again_count) != 0)
            s_fail (second->error, first->command);
        s_compare (first, second);
        for (size_t i = 0; i < again_count; i++)
            zmq_msg_close (&again [i]);
    }
    for (size_t i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
    zhive_proto_destroy (&first);
    zhive_proto_destroy (&second);
    return 0;
}
