/*  test_proto - the wire codec: round trips of every command, and malformed
    input reported as -2 without harm to the next message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "zhive_proto.h"

typedef struct {
    zsock_t *router;       //  Receiving side, as the broker has it
    zsock_t *dealer;       //  Sending side, as a client or worker has it
    zhive_proto_t *out;    //  Message sent
    zhive_proto_t *in;     //  Message received
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = (fixture_t *) calloc (1, sizeof (fixture_t));
    char endpoint [64];
    static int counter = 0;
    snprintf (endpoint, sizeof endpoint, "inproc://test-proto-%d", counter++);
    f->router = zsock_new_router (endpoint);
    f->dealer = zsock_new_dealer (endpoint);
    assert_non_null (f->router);
    assert_non_null (f->dealer);
    zsock_set_rcvtimeo (f->router, 2000);
    zsock_set_rcvtimeo (f->dealer, 2000);
    f->out = zhive_proto_new ();
    f->in = zhive_proto_new ();
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    zhive_proto_destroy (&f->out);
    zhive_proto_destroy (&f->in);
    zsock_destroy (&f->dealer);
    zsock_destroy (&f->router);
    free (f);
    return 0;
}

//  Send f->out from the dealer, receive into f->in on the router
static int
s_roundtrip (fixture_t *f)
{
    f->out->routing_size = 0;
    assert_int_equal (zhive_proto_send (f->out, f->dealer), 0);
    return zhive_proto_recv (f->in, f->router, 0);
}

static void
test_submit_roundtrip (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->out->command = ZHIVE_SUBMIT;
    f->out->id = 0xfffffffffffULL;
    zhive_proto_set_name (f->out->function, "fib");
    f->out->timeout_ms = 1500;
    f->out->retries = -1;
    assert_int_equal (zhive_proto_set_payload (f->out, "\x91\x14", 2), 0);
    assert_int_equal (s_roundtrip (f), 0);
    assert_int_equal (f->in->command, ZHIVE_SUBMIT);
    assert_true (f->in->id == 0xfffffffffffULL);
    assert_string_equal (f->in->function, "fib");
    assert_int_equal (f->in->timeout_ms, 1500);
    assert_int_equal (f->in->retries, -1);
    assert_true (f->in->has_payload);
    assert_int_equal (zmq_msg_size (&f->in->payload), 2);
    assert_memory_equal (zmq_msg_data (&f->in->payload), "\x91\x14", 2);
    assert_true (f->in->routing_size > 0);    //  The router saw who sent it
    //  The payload was sent and emptied on the sending side
    assert_false (f->out->has_payload);
}

static void
test_error_and_failed_roundtrip (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->out->command = ZHIVE_ERROR;
    f->out->id = 7;
    zhive_proto_set_name (f->out->type, "ExampleError");
    zhive_proto_set_message (f->out, "it went wrong");
    zhive_proto_set_name (f->out->worker, "host:42");
    assert_int_equal (s_roundtrip (f), 0);
    assert_int_equal (f->in->command, ZHIVE_ERROR);
    assert_int_equal (f->in->id, 7);
    assert_string_equal (f->in->type, "ExampleError");
    assert_string_equal (f->in->message, "it went wrong");
    assert_string_equal (f->in->worker, "host:42");

    f->out->command = ZHIVE_FAILED;
    f->out->id = 9;
    assert_int_equal (s_roundtrip (f), 0);
    assert_int_equal (f->in->command, ZHIVE_FAILED);
    assert_int_equal (f->in->id, 9);
    assert_string_equal (f->in->type, "ExampleError");
    assert_string_equal (f->in->message, "it went wrong");
}

static void
test_ready_roundtrip (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    char *names [] = { "echo", "fib", "sleep" };
    f->out->command = ZHIVE_READY;
    zhive_proto_set_name (f->out->worker, "w1");
    zhive_proto_set_name (f->out->host, "box");
    f->out->pid = 1234;
    f->out->concurrency = 100;
    f->out->functions = names;
    f->out->functions_count = 3;
    assert_int_equal (s_roundtrip (f), 0);
    f->out->functions = NULL;    //  Not ours to free
    f->out->functions_count = 0;
    assert_int_equal (f->in->command, ZHIVE_READY);
    assert_string_equal (f->in->worker, "w1");
    assert_string_equal (f->in->host, "box");
    assert_int_equal (f->in->pid, 1234);
    assert_int_equal (f->in->concurrency, 100);
    assert_int_equal (f->in->functions_count, 3);
    assert_string_equal (f->in->functions [2], "sleep");
}

static void
test_simple_commands_roundtrip (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    int commands [] = { ZHIVE_PING,    ZHIVE_PONG,     ZHIVE_CANCEL, ZHIVE_STATUS,
                        ZHIVE_WELCOME, ZHIVE_DRAINING, ZHIVE_DRAINED };
    for (size_t i = 0; i < sizeof commands / sizeof commands [0]; i++) {
        f->out->command = commands [i];
        f->out->id = 100 + i;
        assert_int_equal (s_roundtrip (f), 0);
        assert_int_equal (f->in->command, commands [i]);
        if (commands [i] != ZHIVE_PING && commands [i] != ZHIVE_PONG &&
            commands [i] != ZHIVE_DRAINING && commands [i] != ZHIVE_DRAINED)
            assert_int_equal (f->in->id, 100 + i);
    }
    //  DRAINED on the wire: the signature with 0x35 and an empty array
    uint8_t signature [5];
    const void *header;
    size_t header_size;
    f->out->command = ZHIVE_DRAINED;
    assert_int_equal (zhive_proto_encode (f->out, signature, &header, &header_size), 0);
    assert_memory_equal (signature, "ZHV\x01\x35", 5);
    assert_int_equal (header_size, 1);
    assert_memory_equal (header, "\x90", 1);
    assert_string_equal (zhive_proto_command_name (ZHIVE_DRAINED), "DRAINED");
    f->out->command = ZHIVE_TASK;
    f->out->id = 55;
    zhive_proto_set_name (f->out->function, "echo");
    zhive_proto_set_payload (f->out, "\x90", 1);
    assert_int_equal (s_roundtrip (f), 0);
    assert_int_equal (f->in->command, ZHIVE_TASK);
    assert_string_equal (f->in->function, "echo");

    f->out->command = ZHIVE_BYE;
    zhive_proto_set_message (f->out, "stopping");
    assert_int_equal (s_roundtrip (f), 0);
    assert_string_equal (f->in->message, "stopping");
}

static void
test_send_without_payload_is_refused (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->out->command = ZHIVE_RESULT;
    f->out->id = 1;
    zhive_proto_clear_payload (f->out);
    f->out->routing_size = 0;
    assert_int_equal (zhive_proto_send (f->out, f->dealer), -1);
    assert_int_equal (errno, EINVAL);
}

//  Sends raw frames (count of them) from the dealer
static void
s_send_raw (zsock_t *sock, int count, ...)
{
    va_list args;
    va_start (args, count);
    for (int i = 0; i < count; i++) {
        const char *data = va_arg (args, const char *);
        size_t size = va_arg (args, size_t);
        zmq_send (zsock_resolve (sock), data, size, i + 1 < count ? ZMQ_SNDMORE : 0);
    }
    va_end (args);
}

//  After each bad message the router must report -2, then decode a good one
static void
s_expect_malformed_then_ok (fixture_t *f, const char *why_part)
{
    assert_int_equal (zhive_proto_recv (f->in, f->router, 0), -2);
    assert_true (f->in->routing_size > 0);
    if (why_part)
        assert_non_null (strstr (f->in->error, why_part));
    f->out->command = ZHIVE_PING;
    assert_int_equal (s_roundtrip (f), 0);
    assert_int_equal (f->in->command, ZHIVE_PING);
}

static void
test_malformed_messages (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    //  Not a signature at all
    s_send_raw (f->dealer, 1, "hello", (size_t) 5);
    s_expect_malformed_then_ok (f, "signature");
    //  Wrong version
    s_send_raw (f->dealer, 2, "ZHV\x09\x01", (size_t) 5, "\x90", (size_t) 1);
    s_expect_malformed_then_ok (f, "version");
    //  Signature only
    s_send_raw (f->dealer, 1, "ZHV\x01\x01", (size_t) 5);
    s_expect_malformed_then_ok (f, "header");
    //  Unknown command
    s_send_raw (f->dealer, 2, "ZHV\x01\x77", (size_t) 5, "\x90", (size_t) 1);
    s_expect_malformed_then_ok (f, "unknown command");
    //  Header not an array
    s_send_raw (f->dealer, 2, "ZHV\x01\x01", (size_t) 5, "\xc0", (size_t) 1);
    s_expect_malformed_then_ok (f, "array");
    //  SUBMIT with too few fields
    s_send_raw (f->dealer, 3, "ZHV\x01\x10", (size_t) 5, "\x91\x01", (size_t) 2, "\x90",
                (size_t) 1);
    s_expect_malformed_then_ok (f, "SUBMIT");
    //  SUBMIT whose function is an integer
    s_send_raw (f->dealer, 3, "ZHV\x01\x10", (size_t) 5, "\x94\x01\x02\x03\x04", (size_t) 5, "\x90",
                (size_t) 1);
    s_expect_malformed_then_ok (f, "SUBMIT");
    //  SUBMIT whose function string claims 4 GB
    s_send_raw (f->dealer, 3, "ZHV\x01\x10", (size_t) 5, "\x94\x01\xdb\xff\xff\xff\xff", (size_t) 7,
                "\x90", (size_t) 1);
    s_expect_malformed_then_ok (f, "SUBMIT");
    //  SUBMIT without its payload
    s_send_raw (f->dealer, 2, "ZHV\x01\x10", (size_t) 5, "\x94\x01\xa1\x66\xff\xff", (size_t) 6);
    s_expect_malformed_then_ok (f, "payload");
    //  Array header claiming more elements than bytes
    s_send_raw (f->dealer, 2, "ZHV\x01\x11", (size_t) 5, "\xdd\xff\xff\xff\xff", (size_t) 5);
    s_expect_malformed_then_ok (f, NULL);
    //  Extra frames after a PING
    s_send_raw (f->dealer, 3, "ZHV\x01\x01", (size_t) 5, "\x90", (size_t) 1, "x", (size_t) 1);
    s_expect_malformed_then_ok (f, "too many");
    //  READY with zero concurrency
    s_send_raw (f->dealer, 2, "ZHV\x01\x30", (size_t) 5, "\x95\xa1w\xa1h\x01\x00\x90", (size_t) 9);
    s_expect_malformed_then_ok (f, "concurrency");
    //  READY with a function name holding a NUL
    s_send_raw (f->dealer, 2, "ZHV\x01\x30", (size_t) 5, "\x95\xa1w\xa1h\x01\x01\x91\xa2\x61\x00",
                (size_t) 12);
    s_expect_malformed_then_ok (f, "READY");
    //  Empty payload
    s_send_raw (f->dealer, 3, "ZHV\x01\x20", (size_t) 5, "\x91\x01", (size_t) 2, "", (size_t) 0);
    s_expect_malformed_then_ok (f, "empty");
}

static void
test_random_garbage_never_crashes (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    //  Random frames with a valid signature and a random header: the decoder
    //  must answer 0 or -2 for every one, never crash or read out of bounds
    srand (42);
    uint8_t header [64];
    for (int round = 0; round < 2000; round++) {
        size_t size = (size_t) (rand () % (int) sizeof header) + 1;
        for (size_t i = 0; i < size; i++)
            header [i] = (uint8_t) rand ();
        header [0] = (uint8_t) (0x90 | (rand () % 6));
        int commands [] = { 0x01, 0x10, 0x11, 0x20, 0x21, 0x30, 0x31, 0x32, 0x40, 0x50 };
        char sig [5] = { 'Z', 'H', 'V', 1, (char) commands [rand () % 10] };
        s_send_raw (f->dealer, 3, sig, (size_t) 5, (const char *) header, size, "\x90", (size_t) 1);
        int rc = zhive_proto_recv (f->in, f->router, 0);
        assert_true (rc == 0 || rc == -2);
    }
    f->out->command = ZHIVE_PING;
    assert_int_equal (s_roundtrip (f), 0);
}

//  Frames for zhive_proto_decode: count of them, each a copy of (data, size)
static void
s_frames (zmq_msg_t *frames, int count, ...)
{
    va_list args;
    va_start (args, count);
    for (int i = 0; i < count; i++) {
        const char *data = va_arg (args, const char *);
        size_t size = va_arg (args, size_t);
        zmq_msg_init_size (&frames [i], size);
        if (size)
            memcpy (zmq_msg_data (&frames [i]), data, size);
    }
    va_end (args);
}

static void
s_close_frames (zmq_msg_t *frames, int count)
{
    for (int i = 0; i < count; i++)
        zmq_msg_close (&frames [i]);
}

static void
test_encode_then_decode_without_socket (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    f->out->command = ZHIVE_TASK;
    f->out->id = 77;
    zhive_proto_set_name (f->out->function, "fib");
    f->out->timeout_ms = 1500;
    f->out->chunk = 3;
    assert_int_equal (zhive_proto_set_payload (f->out, "\x91\x05", 2), 0);
    uint8_t sig [5];
    const void *header;
    size_t header_size;
    assert_int_equal (zhive_proto_encode (f->out, sig, &header, &header_size), 0);
    assert_memory_equal (sig, "ZHV\x01\x40", 5);
    //  The encoder leaves the payload where it is
    assert_true (f->out->has_payload);
    zmq_msg_t frames [3];
    s_frames (frames, 3, (const char *) sig, sizeof sig, (const char *) header, header_size,
              "\x91\x05", (size_t) 2);
    f->in->routing_size = 9;
    assert_int_equal (zhive_proto_decode (f->in, frames, 3), 0);
    assert_int_equal (f->in->routing_size, 0);
    assert_int_equal (f->in->command, ZHIVE_TASK);
    assert_int_equal (f->in->id, 77);
    assert_string_equal (f->in->function, "fib");
    assert_int_equal (f->in->timeout_ms, 1500);
    assert_int_equal (f->in->chunk, 3);
    assert_true (f->in->has_payload);
    assert_memory_equal (zmq_msg_data (&f->in->payload), "\x91\x05", 2);
    //  The payload frame was moved out
    assert_int_equal (zmq_msg_size (&frames [2]), 0);
    s_close_frames (frames, 3);
    //  Unknown commands and payload commands without a payload do not encode
    f->out->command = 0x77;
    assert_int_equal (zhive_proto_encode (f->out, sig, &header, &header_size), -1);
    assert_int_equal (errno, EINVAL);
    f->out->command = ZHIVE_DONE;
    zhive_proto_clear_payload (f->out);
    assert_int_equal (zhive_proto_encode (f->out, sig, &header, &header_size), -1);
    assert_int_equal (errno, EINVAL);
}

static void
test_decode_checks_the_frame_count (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    zmq_msg_t frames [4];
    assert_int_equal (zhive_proto_decode (f->in, frames, 0), -2);
    assert_non_null (strstr (f->in->error, "no frames"));
    s_frames (frames, 1, "ZHV\x01\x01", (size_t) 5);
    assert_int_equal (zhive_proto_decode (f->in, frames, 1), -2);
    assert_non_null (strstr (f->in->error, "header frame is missing"));
    s_close_frames (frames, 1);
    s_frames (frames, 3, "ZHV\x01\x01", (size_t) 5, "\x90", (size_t) 1, "x", (size_t) 1);
    assert_int_equal (zhive_proto_decode (f->in, frames, 3), -2);
    assert_non_null (strstr (f->in->error, "too many"));
    s_close_frames (frames, 3);
    s_frames (frames, 2, "ZHV\x01\x20", (size_t) 5, "\x91\x01", (size_t) 2);
    assert_int_equal (zhive_proto_decode (f->in, frames, 2), -2);
    assert_non_null (strstr (f->in->error, "payload frame is missing"));
    s_close_frames (frames, 2);
    //  A fourth frame is too many, and the payload is not kept
    s_frames (frames, 4, "ZHV\x01\x20", (size_t) 5, "\x91\x01", (size_t) 2, "\xc0", (size_t) 1, "x",
              (size_t) 1);
    assert_int_equal (zhive_proto_decode (f->in, frames, 4), -2);
    assert_non_null (strstr (f->in->error, "too many"));
    assert_false (f->in->has_payload);
    s_close_frames (frames, 4);
    s_frames (frames, 3, "ZHV\x01\x20", (size_t) 5, "\x91\x01", (size_t) 2, "\xc0", (size_t) 1);
    assert_int_equal (zhive_proto_decode (f->in, frames, 3), 0);
    assert_int_equal (f->in->id, 1);
    assert_true (f->in->has_payload);
    s_close_frames (frames, 3);
}

//  recv reads at most four frames after the routing id and drains the rest
static void
test_recv_drains_many_extra_frames (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    s_send_raw (f->dealer, 7, "ZHV\x01\x20", (size_t) 5, "\x91\x01", (size_t) 2, "\xc0", (size_t) 1,
                "a", (size_t) 1, "b", (size_t) 1, "c", (size_t) 1, "d", (size_t) 1);
    s_expect_malformed_then_ok (f, "too many");
    assert_false (f->in->has_payload);
    //  A bad signature followed by many frames: the signature is what is wrong
    s_send_raw (f->dealer, 6, "nope!", (size_t) 5, "1", (size_t) 1, "2", (size_t) 1, "3",
                (size_t) 1, "4", (size_t) 1, "5", (size_t) 1);
    s_expect_malformed_then_ok (f, "signature");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_submit_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_error_and_failed_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ready_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_simple_commands_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_send_without_payload_is_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed_messages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_random_garbage_never_crashes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_encode_then_decode_without_socket, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_decode_checks_the_frame_count, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_recv_drains_many_extra_frames, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
