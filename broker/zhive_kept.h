/*  =========================================================================
    zhive_kept - answers the broker could not deliver, kept for a resend

    An answer to a task whose send failed (the client is not connected, or
    its pipe is full) is kept under (client key, task id) until the client
    resends that task id, which then takes it. The store is bounded by
    count, bytes and age: past a bound the oldest answers go first, and
    one answer over a quarter of the byte bound is not kept at all. It
    reads no clock: every call that needs the time is given it.
    =========================================================================
*/
#ifndef ZHIVE_KEPT_H_INCLUDED
#define ZHIVE_KEPT_H_INCLUDED

#include "zhive_list.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_KEPT_MAX   100000                //  Default most answers kept at once
#define ZHIVE_KEPT_BYTES (64 * 1024 * 1024)    //  Default most bytes of kept answers
#define ZHIVE_KEPT_MS    60000                 //  Default time an answer is kept

typedef struct _zhive_kept_t zhive_kept_t;

//  One kept answer: a RESULT (value) or an ERROR (type, message, worker)
typedef struct {
    char *key;            //  Client key "/" task id: the key in the store
    uint64_t id;          //  The client's task id
    bool is_result;       //  RESULT (value) rather than ERROR
    zmq_msg_t value;      //  RESULT: the value
    char *type;           //  ERROR: its type
    char *message;        //  ERROR: its message
    char *worker;         //  ERROR: the worker's name, "" for the broker's own
    size_t bytes;         //  Memory it holds, for the bound
    int64_t expires;      //  When it is dropped (the caller's clock, µs)
    zhive_link_t link;    //  In the store's list, oldest first
} zhive_kept_entry_t;

//  ---------------------------------------------------------------------
//  Create a store that holds at most max_count answers and max_bytes
//  bytes, each for keep_us µs. NULL if out of memory.
zhive_kept_t *zhive_kept_new (size_t max_count, size_t max_bytes, int64_t keep_us);

//  Destroy the store and every answer in it. Safe with *self_p NULL.
void zhive_kept_destroy (zhive_kept_t **self_p);

//  Keep an answer to (client, id): value (moved in, the source left
//  empty) for a RESULT, or NULL and type/message/worker for an ERROR. An
//  older answer under the same key is replaced. value is left an empty
//  message either way. Returns 0, or -1 if it was not kept (too big, past
//  the bounds at once, or out of memory).
int zhive_kept_add (zhive_kept_t *self, const char *client, uint64_t id, zmq_msg_t *value,
                    const char *type, const char *message, const char *worker, int64_t now);

//  Take the answer kept for (client, id) out of the store, or NULL.
//  The caller destroys it with zhive_kept_entry_destroy.
zhive_kept_entry_t *zhive_kept_take (zhive_kept_t *self, const char *client, uint64_t id);

//  Free a taken answer. Safe with *entry_p NULL.
void zhive_kept_entry_destroy (zhive_kept_entry_t **entry_p);

//  Drop the answers whose time is up at `now`.
void zhive_kept_expire (zhive_kept_t *self, int64_t now);

//  Answers kept, and the bytes they hold.
size_t zhive_kept_count (zhive_kept_t *self);
size_t zhive_kept_bytes (zhive_kept_t *self);

#pragma GCC visibility pop

#endif
