/*  =========================================================================
    zhive_broker_actor - the broker's thread: sockets, timers, the monitor,
    and the pipe commands of the API (zhive_broker.c)
    =========================================================================
*/
#ifndef ZHIVE_BROKER_ACTOR_H_INCLUDED
#define ZHIVE_BROKER_ACTOR_H_INCLUDED

#include <czmq.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_BROKER_STOPPED_SIGNAL 1    //  Pipe signal status: the broker stopped after a drain

//  The actor (zactor_new's function): runs until $TERM, or until a drain
//  ends (it then signals ZHIVE_BROKER_STOPPED_SIGNAL and answers every
//  request with an error until $TERM).
void zhive_broker_actor_run (zsock_t *pipe, void *args);

//  Decode a reply [serial, status, value] to an answered command: 0 (value
//  is the caller's to free, status 0 for OK, -1 for ERROR), or -1 if msg
//  is not one.
int zhive_broker_actor_reply (zmsg_t *msg, uint32_t *serial, int *status, char **value);

#pragma GCC visibility pop

#endif
