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

//  The pipe commands, defined once for the API and the actor: each is its
//  name and the zsock_send picture of the frames after the name. Answered
//  commands start with their serial (4) and get [serial 4, status 4 (0:
//  OK), value s]. Use ZHIVE_BROKER_SEND to send one.
#define ZHIVE_BROKER_VERBOSE          "VERBOSE", "4"             //  verbose
#define ZHIVE_BROKER_WORKER_PROGRAM   "WORKER-PROGRAM", "s"      //  path, "" for the default
#define ZHIVE_BROKER_HEARTBEAT        "HEARTBEAT", "44"          //  interval ms, liveness
#define ZHIVE_BROKER_MAX_QUEUE        "MAX-QUEUE", "88"          //  total, per function
#define ZHIVE_BROKER_MAX_PER_CLIENT   "MAX-PER-CLIENT", "8"      //  waiting tasks per client
#define ZHIVE_BROKER_MAX_BYTES        "MAX-BYTES", "8"           //  waiting argument bytes
#define ZHIVE_BROKER_MAX_RETRIES      "MAX-RETRIES", "4"         //  retries (int)
#define ZHIVE_BROKER_PREFETCH         "PREFETCH", "4"            //  prefetch ms
#define ZHIVE_BROKER_UNOFFERED        "UNOFFERED", "4"           //  unknown-function bound ms
#define ZHIVE_BROKER_WORKER_MAX_TASKS "WORKER-MAX-TASKS", "8"    //  --max-tasks
#define ZHIVE_BROKER_START_METHOD     "START-METHOD", "s"        //  exec | zygote
#define ZHIVE_BROKER_DRAIN            "DRAIN", "4"               //  timeout ms (int)
#define ZHIVE_BROKER_BIND             "BIND", "4ss"    //  serial, clients|workers, endpoint
#define ZHIVE_BROKER_START_WORKERS    "START-WORKERS", "444m"    //  serial, count, concurrency, loads
#define ZHIVE_BROKER_WORKERS_READY    "WORKERS-READY", "4"       //  serial
#define ZHIVE_BROKER_CURVE            "CURVE", "4ss"             //  serial, secret path, allow dir
#define ZHIVE_BROKER_CURVE_RELOAD     "CURVE-RELOAD", "4"        //  serial
#define ZHIVE_BROKER_HTTP             "HTTP", "4ss"              //  serial, address, token

//  A command's name, and its whole picture (name included)
#define ZHIVE_BROKER_NAME(...)         ZHIVE_BROKER_FIRST (__VA_ARGS__)
#define ZHIVE_BROKER_FIRST(name, pic)  name
#define ZHIVE_BROKER_PICTURE(...)      ZHIVE_BROKER_SECOND (__VA_ARGS__)
#define ZHIVE_BROKER_SECOND(name, pic) "s" pic

//  Send a command with its arguments: zsock_send with the table's picture
#define ZHIVE_BROKER_SEND(sock, command, ...)                                                      \
    zsock_send ((sock), ZHIVE_BROKER_PICTURE (command), ZHIVE_BROKER_NAME (command), __VA_ARGS__)

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
