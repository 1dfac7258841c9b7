/*  =========================================================================
    zhive_peer - who a message came from or goes to, as the pool sees it

    A peer is an opaque byte string (the broker uses the ROUTER routing
    id); the pool model keeps it and hands it back to its operations, and
    keys its tables by the peer's hex form. Header only: a value type.
    =========================================================================
*/
#ifndef ZHIVE_PEER_H_INCLUDED
#define ZHIVE_PEER_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ZHIVE_PEER_MAX      256                         //  Longest peer id (a ZeroMQ routing id)
#define ZHIVE_PEER_KEY_SIZE (2 * ZHIVE_PEER_MAX + 1)    //  A peer id in hex, with its NUL

typedef struct {
    uint8_t id [ZHIVE_PEER_MAX];    //  The bytes
    size_t size;                    //  How many
} zhive_peer_t;

//  Set a peer from bytes (cut at ZHIVE_PEER_MAX).
static inline void
zhive_peer_set (zhive_peer_t *self, const void *id, size_t size)
{
    self->size = size < ZHIVE_PEER_MAX ? size : ZHIVE_PEER_MAX;
    memcpy (self->id, id, self->size);
}

//  True if two peers are the same.
static inline int
zhive_peer_equal (const zhive_peer_t *a, const zhive_peer_t *b)
{
    return a->size == b->size && memcmp (a->id, b->id, a->size) == 0;
}

//  Write the peer in hex into key (ZHIVE_PEER_KEY_SIZE bytes).
static inline void
zhive_peer_key (const zhive_peer_t *self, char *key)
{
    static const char hex [] = "0123456789abcdef";
    for (size_t i = 0; i < self->size; i++) {
        key [2 * i] = hex [self->id [i] >> 4];
        key [2 * i + 1] = hex [self->id [i] & 15];
    }
    key [2 * self->size] = 0;
}

#endif
