/*  =========================================================================
    testkit_relay - a TCP relay on 127.0.0.1 between peers and a target
    endpoint (a broker), in its own thread

    It records every byte it relays, both ways, so that a test can tell
    what crossed the wire (testkit_relay_saw), and it can go silent
    (testkit_relay_freeze): it then relays nothing more on the connections
    it has, which stay open, as with a host that hangs; connections made
    afterwards are relayed. It holds up to 8 connections at a time.
    =========================================================================
*/
#ifndef TESTKIT_RELAY_H_INCLUDED
#define TESTKIT_RELAY_H_INCLUDED

#include "testkit.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _testkit_relay_t testkit_relay_t;

//  ---------------------------------------------------------------------
//  A relay to target ("tcp://127.0.0.1:PORT"), listening on a port the
//  kernel picks. Fails the test if it cannot listen.
testkit_relay_t *testkit_relay_new (const char *target);

//  Stop the relay and close its connections. Safe with *self_p NULL.
void testkit_relay_destroy (testkit_relay_t **self_p);

//  ---------------------------------------------------------------------
//  Where peers connect: "tcp://127.0.0.1:PORT".
const char *testkit_relay_endpoint (testkit_relay_t *self);

//  ---------------------------------------------------------------------
//  Relay nothing more on the connections there are now.
void testkit_relay_freeze (testkit_relay_t *self);

//  ---------------------------------------------------------------------
//  True if text passed through the relay, either way.
bool testkit_relay_saw (testkit_relay_t *self, const char *text);

//  ---------------------------------------------------------------------
//  Bytes relayed so far, both ways.
size_t testkit_relay_size (testkit_relay_t *self);

#ifdef __cplusplus
}
#endif

#endif
