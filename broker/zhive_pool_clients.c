/*  =========================================================================
    zhive_pool_clients - the pool model's table of clients
    =========================================================================
*/
#include "zhive_pool_clients.h"

struct _zhive_pool_clients_t {
    zhashx_t *clients;              //  Peer key -> zhive_pool_client_t
    zhive_pool_client_t *recent;    //  Client of the last lookup: kept even when idle
};

static void
s_client_free (zhive_pool_client_t **client_p)
{
    zhive_idmap_destroy (&(*client_p)->pending);
    free (*client_p);
    *client_p = NULL;
}

//  ---------------------------------------------------------------------
//  Create an empty table

zhive_pool_clients_t *
zhive_pool_clients_new (void)
{
    zhive_pool_clients_t *self = (zhive_pool_clients_t *) calloc (1, sizeof *self);
    if (self)
        self->clients = zhashx_new ();
    if (self && !self->clients) {
        free (self);
        self = NULL;
    }
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the table and its clients

void
zhive_pool_clients_destroy (zhive_pool_clients_t **self_p)
{
    zhive_pool_clients_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    zhive_pool_client_t *client;
    while ((client = (zhive_pool_client_t *) zhashx_first (self->clients))) {
        zhashx_delete (self->clients, client->key);
        s_client_free (&client);
    }
    zhashx_destroy (&self->clients);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Forget an idle client

void
zhive_pool_clients_release (zhive_pool_clients_t *self, zhive_pool_client_t *client)
{
    if (client == self->recent || zhive_idmap_size (client->pending))
        return;
    zhashx_delete (self->clients, client->key);
    s_client_free (&client);
}

static void
s_set_recent (zhive_pool_clients_t *self, zhive_pool_client_t *client)
{
    zhive_pool_client_t *previous = self->recent;
    self->recent = client;
    if (previous && previous != client)
        zhive_pool_clients_release (self, previous);
}

//  ---------------------------------------------------------------------
//  Find a client, or make it

zhive_pool_client_t *
zhive_pool_clients_lookup (zhive_pool_clients_t *self, const zhive_peer_t *peer)
{
    if (self->recent && zhive_peer_equal (&self->recent->peer, peer))
        return self->recent;
    char key [ZHIVE_PEER_KEY_SIZE];
    zhive_peer_key (peer, key);
    zhive_pool_client_t *client = (zhive_pool_client_t *) zhashx_lookup (self->clients, key);
    if (client)
        s_set_recent (self, client);
    return client;
}

zhive_pool_client_t *
zhive_pool_clients_require (zhive_pool_clients_t *self, const zhive_peer_t *peer)
{
    zhive_pool_client_t *client = zhive_pool_clients_lookup (self, peer);
    if (client)
        return client;
    client = (zhive_pool_client_t *) calloc (1, sizeof (zhive_pool_client_t));
    if (!client)
        return NULL;
    client->peer = *peer;
    zhive_peer_key (peer, client->key);
    client->pending = zhive_idmap_new ();
    if (!client->pending || zhashx_insert (self->clients, client->key, client)) {
        s_client_free (&client);
        return NULL;
    }
    s_set_recent (self, client);
    return client;
}

//  ---------------------------------------------------------------------
//  Walk the clients

zhive_pool_client_t *
zhive_pool_clients_first (zhive_pool_clients_t *self)
{
    return (zhive_pool_client_t *) zhashx_first (self->clients);
}

zhive_pool_client_t *
zhive_pool_clients_next (zhive_pool_clients_t *self)
{
    return (zhive_pool_client_t *) zhashx_next (self->clients);
}
