/*  =========================================================================
    testkit_relay - a TCP relay that records bytes and can go silent

    The relay runs in a zactor; the test talks to it over the pipe:
    "FREEZE", "SAW" + text (answered with "i" 0/1), "SIZE" (answered "8").
    Only the actor touches the connections and the capture.
    =========================================================================
*/
#include "testkit_relay.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>

#define S_PAIRS 8    //  Connections relayed at a time

struct _testkit_relay_t {
    zactor_t *actor;       //  The relay thread
    char endpoint [64];    //  Where peers connect
};

//  One relayed connection
typedef struct {
    int fd [2];     //  Peer side, target side; -1 when the slot is free
    bool frozen;    //  Relays nothing
} s_pair_t;

//  The actor's state
typedef struct {
    zsock_t *pipe;               //  To the test
    int listener;                //  Where peers connect
    int target;                  //  The target's port
    s_pair_t pairs [S_PAIRS];    //  The connections
    char *captured;              //  Every byte relayed, both ways
    size_t size;                 //  Bytes captured
    size_t max;                  //  Bytes allocated
} s_relay_t;

//  Add bytes to the capture
static void
s_record (s_relay_t *self, const char *data, size_t size)
{
    if (self->size + size > self->max) {
        size_t max = (self->size + size) * 2;
        char *captured = (char *) realloc (self->captured, max);
        if (!captured)
            return;
        self->captured = captured;
        self->max = max;
    }
    memcpy (self->captured + self->size, data, size);
    self->size += size;
}

//  Copy what is readable on from to to; false when the pair is done
static bool
s_pass (s_relay_t *self, int from, int to)
{
    char buffer [65536];
    ssize_t size = read (from, buffer, sizeof buffer);
    if (size <= 0)
        return false;
    s_record (self, buffer, (size_t) size);
    for (ssize_t sent = 0; sent < size;) {
        ssize_t rc = write (to, buffer + sent, (size_t) (size - sent));
        if (rc <= 0)
            return false;
        sent += rc;
    }
    return true;
}

//  Close a pair and free its slot
static void
s_close (s_pair_t *pair)
{
    if (pair->fd [0] >= 0) {
        close (pair->fd [0]);
        close (pair->fd [1]);
    }
    pair->fd [0] = pair->fd [1] = -1;
    pair->frozen = false;
}

//  A new peer: connect it to the target in a free slot, or refuse it
static void
s_accept (s_relay_t *self)
{
    int peer = accept (self->listener, NULL, NULL);
    int target = peer >= 0 ? testkit_tcp_connect (self->target) : -1;
    int slot = 0;
    while (slot < S_PAIRS && self->pairs [slot].fd [0] >= 0)
        slot++;
    if (peer >= 0 && target >= 0 && slot < S_PAIRS)
        self->pairs [slot] = (s_pair_t){ { peer, target }, false };
    else {
        if (peer >= 0)
            close (peer);
        if (target >= 0)
            close (target);
    }
}

//  A command from the test; false on $TERM
static bool
s_command (s_relay_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    bool running = command && !streq (command, "$TERM");
    if (running && streq (command, "FREEZE")) {
        for (int i = 0; i < S_PAIRS; i++)
            self->pairs [i].frozen = self->pairs [i].fd [0] >= 0;
    }
    else if (running && streq (command, "SAW")) {
        char *text = zmsg_popstr (msg);
        size_t length = text ? strlen (text) : 0;
        int saw = 0;
        for (size_t at = 0; text && !saw && at + length <= self->size; at++)
            saw = memcmp (self->captured + at, text, length) == 0;
        zstr_free (&text);
        zsock_send (self->pipe, "i", saw);
    }
    else if (running && streq (command, "SIZE"))
        zsock_send (self->pipe, "8", (uint64_t) self->size);
    zstr_free (&command);
    zmsg_destroy (&msg);
    return running;
}

//  The relay thread: poll the pipe, the listener and the live pairs
static void
s_relay_actor (zsock_t *pipe, void *arg)
{
    s_relay_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.target = (int) (intptr_t) arg;
    for (int i = 0; i < S_PAIRS; i++)
        self.pairs [i].fd [0] = self.pairs [i].fd [1] = -1;
    int port = 0;
    self.listener = testkit_tcp_listen (&port);
    zsock_signal (pipe, 0);
    zsock_send (pipe, "i", self.listener >= 0 ? port : 0);
    bool running = self.listener >= 0;
    while (running) {
        zmq_pollitem_t items [2 + 2 * S_PAIRS];
        int side [2 + 2 * S_PAIRS];    //  Pair * 2 + side of each item
        items [0] = (zmq_pollitem_t){ zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t){ NULL, self.listener, ZMQ_POLLIN, 0 };
        int used = 2;
        for (int i = 0; i < S_PAIRS; i++) {
            for (int end = 0; end < 2 && self.pairs [i].fd [0] >= 0 && !self.pairs [i].frozen;
                 end++) {
                items [used] = (zmq_pollitem_t){ NULL, self.pairs [i].fd [end], ZMQ_POLLIN, 0 };
                side [used++] = i * 2 + end;
            }
        }
        if (zmq_poll (items, used, 1000) < 0 && zmq_errno () != EINTR)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            running = s_command (&self);
            continue;    //  The pairs may have been frozen
        }
        if (items [1].revents & ZMQ_POLLIN)
            s_accept (&self);
        for (int item = 2; item < used; item++) {
            s_pair_t *pair = &self.pairs [side [item] / 2];
            int from = side [item] % 2;
            if ((items [item].revents & ZMQ_POLLIN) && pair->fd [0] >= 0 &&
                !s_pass (&self, pair->fd [from], pair->fd [1 - from]))
                s_close (pair);
        }
    }
    for (int i = 0; i < S_PAIRS; i++)
        s_close (&self.pairs [i]);
    if (self.listener >= 0)
        close (self.listener);
    free (self.captured);
}

//  ---------------------------------------------------------------------
//  A relay to target

testkit_relay_t *
testkit_relay_new (const char *target)
{
    testkit_relay_t *self = (testkit_relay_t *) calloc (1, sizeof (testkit_relay_t));
    assert_non_null (self);
    int target_port = testkit_port (target);
    assert_true (target_port > 0);
    self->actor = zactor_new (s_relay_actor, (void *) (intptr_t) target_port);
    assert_non_null (self->actor);
    int port = 0;
    assert_int_equal (zsock_recv (self->actor, "i", &port), 0);
    assert_true (port > 0);
    snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d", port);
    return self;
}

//  ---------------------------------------------------------------------
//  Stop and free

void
testkit_relay_destroy (testkit_relay_t **self_p)
{
    testkit_relay_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Where peers connect

const char *
testkit_relay_endpoint (testkit_relay_t *self)
{
    return self->endpoint;
}

//  ---------------------------------------------------------------------
//  Go silent on the connections there are

void
testkit_relay_freeze (testkit_relay_t *self)
{
    zstr_send (self->actor, "FREEZE");
}

//  ---------------------------------------------------------------------
//  Whether text went through

bool
testkit_relay_saw (testkit_relay_t *self, const char *text)
{
    int saw = 0;
    assert_int_equal (zstr_sendx (self->actor, "SAW", text, NULL), 0);
    assert_int_equal (zsock_recv (self->actor, "i", &saw), 0);
    return saw != 0;
}

//  ---------------------------------------------------------------------
//  Bytes relayed

size_t
testkit_relay_size (testkit_relay_t *self)
{
    uint64_t size = 0;
    assert_int_equal (zstr_send (self->actor, "SIZE"), 0);
    assert_int_equal (zsock_recv (self->actor, "8", &size), 0);
    return (size_t) size;
}
