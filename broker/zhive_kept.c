/*  =========================================================================
    zhive_kept - answers the broker could not deliver, kept for a resend

    A hash table finds an answer by its key; an intrusive list in the order
    they were kept gives the oldest, for the bounds and for expiry (every
    answer is kept for the same time, so the oldest expires first).
    =========================================================================
*/
#include "zhive_kept.h"
#include "zhive_peer.h"
#include <inttypes.h>

struct _zhive_kept_t {
    zhashx_t *entries;     //  Key -> zhive_kept_entry_t
    zhive_list_t order;    //  The entries, oldest first
    size_t bytes;          //  Memory they hold
    size_t max_count;      //  Most entries
    size_t max_bytes;      //  Most bytes
    int64_t keep_us;       //  How long an entry is kept
};

//  ---------------------------------------------------------------------
//  Create a bounded store

zhive_kept_t *
zhive_kept_new (size_t max_count, size_t max_bytes, int64_t keep_us)
{
    zhive_kept_t *self = (zhive_kept_t *) calloc (1, sizeof (zhive_kept_t));
    if (!self)
        return NULL;
    self->entries = zhashx_new ();
    if (!self->entries) {
        free (self);
        return NULL;
    }
    zhive_list_init (&self->order);
    self->max_count = max_count;
    self->max_bytes = max_bytes;
    self->keep_us = keep_us;
    return self;
}

//  ---------------------------------------------------------------------
//  Free a taken entry

void
zhive_kept_entry_destroy (zhive_kept_entry_t **entry_p)
{
    zhive_kept_entry_t *entry = entry_p ? *entry_p : NULL;
    if (!entry)
        return;
    zmq_msg_close (&entry->value);
    free (entry->key);
    free (entry->type);
    free (entry->message);
    free (entry->worker);
    free (entry);
    *entry_p = NULL;
}

//  Take an entry out of the table and the list
static void
s_unlink (zhive_kept_t *self, zhive_kept_entry_t *entry)
{
    zhashx_delete (self->entries, entry->key);
    zhive_list_remove (&self->order, &entry->link);
    self->bytes -= entry->bytes;
}

//  Drop the oldest entry
static void
s_drop_oldest (zhive_kept_t *self)
{
    zhive_kept_entry_t *entry =
        ZHIVE_LIST_ITEM (zhive_list_first (&self->order), zhive_kept_entry_t, link);
    s_unlink (self, entry);
    zhive_kept_entry_destroy (&entry);
}

//  ---------------------------------------------------------------------
//  Destroy the store with its answers

void
zhive_kept_destroy (zhive_kept_t **self_p)
{
    zhive_kept_t *self = self_p ? *self_p : NULL;
    if (!self)
        return;
    while (!zhive_list_empty (&self->order))
        s_drop_oldest (self);
    zhashx_destroy (&self->entries);
    free (self);
    *self_p = NULL;
}

//  The key of (client, id), written into key (S_KEY_SIZE bytes)
#define S_KEY_SIZE (ZHIVE_PEER_KEY_SIZE + 24)
static char *
s_key (char *key, const char *client, uint64_t id)
{
    snprintf (key, S_KEY_SIZE, "%s/%" PRIu64, client, id);
    return key;
}

//  ---------------------------------------------------------------------
//  Keep an answer, dropping the oldest past the bounds

int
zhive_kept_add (zhive_kept_t *self, const char *client, uint64_t id, zmq_msg_t *value,
                const char *type, const char *message, const char *worker, int64_t now)
{
    size_t bytes = sizeof (zhive_kept_entry_t) + strlen (client) + 24;
    if (value)
        bytes += zmq_msg_size (value);
    else {
        bytes += (type ? strlen (type) : 0) + (message ? strlen (message) : 0) +
                 (worker ? strlen (worker) : 0) + 3;
    }
    zhive_kept_entry_t *entry =
        bytes <= self->max_bytes / 4 ? (zhive_kept_entry_t *) calloc (1, sizeof *entry) : NULL;
    if (!entry) {
        if (value) {
            zmq_msg_close (value);
            zmq_msg_init (value);    //  Left empty, as on success
        }
        return -1;
    }
    zmq_msg_init (&entry->value);
    char key [S_KEY_SIZE];
    entry->key = strdup (s_key (key, client, id));
    entry->id = id;
    entry->is_result = value != NULL;
    if (value)
        zmq_msg_move (&entry->value, value);    //  Leaves it empty
    else {
        entry->type = strdup (type ? type : "");
        entry->message = strdup (message ? message : "");
        entry->worker = strdup (worker ? worker : "");
    }
    if (!entry->key || (!value && (!entry->type || !entry->message || !entry->worker))) {
        zhive_kept_entry_destroy (&entry);
        return -1;
    }
    zhive_kept_entry_t *old = (zhive_kept_entry_t *) zhashx_lookup (self->entries, entry->key);
    if (old) {
        //  The task ran again: the newer answer wins
        s_unlink (self, old);
        zhive_kept_entry_destroy (&old);
    }
    if (zhashx_insert (self->entries, entry->key, entry)) {
        zhive_kept_entry_destroy (&entry);
        return -1;
    }
    entry->bytes = bytes;
    entry->expires = now + self->keep_us;
    zhive_list_push_back (&self->order, &entry->link);
    self->bytes += bytes;
    while (zhive_list_size (&self->order) > self->max_count || self->bytes > self->max_bytes)
        s_drop_oldest (self);
    //  -1 if the bounds dropped the new answer itself (none can be kept)
    return zhashx_lookup (self->entries, key) ? 0 : -1;
}

//  ---------------------------------------------------------------------
//  Take the answer kept for (client, id)

zhive_kept_entry_t *
zhive_kept_take (zhive_kept_t *self, const char *client, uint64_t id)
{
    if (zhive_list_empty (&self->order))
        return NULL;    //  The usual case: no key to build
    char key [S_KEY_SIZE];
    zhive_kept_entry_t *entry =
        (zhive_kept_entry_t *) zhashx_lookup (self->entries, s_key (key, client, id));
    if (entry)
        s_unlink (self, entry);
    return entry;
}

//  ---------------------------------------------------------------------
//  Drop the answers whose time is up

void
zhive_kept_expire (zhive_kept_t *self, int64_t now)
{
    while (!zhive_list_empty (&self->order)) {
        zhive_kept_entry_t *oldest =
            ZHIVE_LIST_ITEM (zhive_list_first (&self->order), zhive_kept_entry_t, link);
        if (oldest->expires > now)
            break;
        s_drop_oldest (self);
    }
}

//  ---------------------------------------------------------------------
//  How much is kept

size_t
zhive_kept_count (zhive_kept_t *self)
{
    return zhive_list_size (&self->order);
}

size_t
zhive_kept_bytes (zhive_kept_t *self)
{
    return self->bytes;
}
