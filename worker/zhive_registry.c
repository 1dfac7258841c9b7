/*  =========================================================================
    zhive_registry - a worker's handlers, by function name
    =========================================================================
*/
#include "zhive_registry.h"
#include "zhive_proto.h"

struct _zhive_registry_t {
    zhive_handler_t **handlers;    //  Handlers, in registration order
    char **names;                  //  Their names, then NULL (READY's list)
    size_t size;                   //  How many
    zhashx_t *lookup;              //  Function name -> handler (not owning)
};

//  ---------------------------------------------------------------------
//  Create an empty registry

zhive_registry_t *
zhive_registry_new (void)
{
    zhive_registry_t *self = (zhive_registry_t *) calloc (1, sizeof (zhive_registry_t));
    if (!self)
        return NULL;
    self->lookup = zhashx_new ();
    self->names = (char **) calloc (1, sizeof (char *));
    if (!self->lookup || !self->names)
        zhive_registry_destroy (&self);
    return self;
}

//  ---------------------------------------------------------------------
//  Destroy the registry and its handlers

void
zhive_registry_destroy (zhive_registry_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhive_registry_t *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        free (self->handlers [i]->name);
        free (self->handlers [i]);
    }
    free (self->handlers);
    free (self->names);
    zhashx_destroy (&self->lookup);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Add a handler; each name once

int
zhive_registry_add (zhive_registry_t *self, const char *function, zhive_handler_fn *fn, void *state,
                    int flags)
{
    if (!function || !*function || strlen (function) > ZHIVE_NAME_MAX || !fn ||
        (flags != ZHIVE_SYNC && flags != ZHIVE_ASYNC)) {
        errno = EINVAL;
        return -1;
    }
    if (zhashx_lookup (self->lookup, function)) {
        errno = EEXIST;
        return -1;
    }
    if (self->size >= ZHIVE_FUNCTIONS_MAX) {
        errno = E2BIG;
        return -1;
    }
    zhive_handler_t **handlers = (zhive_handler_t **) realloc (
        self->handlers, (self->size + 1) * sizeof (zhive_handler_t *));
    if (handlers)
        self->handlers = handlers;
    char **names = (char **) realloc (self->names, (self->size + 2) * sizeof (char *));
    if (names)
        self->names = names;
    zhive_handler_t *entry = (zhive_handler_t *) calloc (1, sizeof (zhive_handler_t));
    if (entry)
        entry->name = strdup (function);
    if (!handlers || !names || !entry || !entry->name ||
        zhashx_insert (self->lookup, entry->name, entry)) {
        if (entry)
            free (entry->name);
        free (entry);
        errno = ENOMEM;
        return -1;
    }
    entry->fn = fn;
    entry->state = state;
    entry->flags = flags;
    self->handlers [self->size] = entry;
    self->names [self->size] = entry->name;
    self->names [++self->size] = NULL;
    return 0;
}

//  ---------------------------------------------------------------------
//  The handler of a function, or NULL

zhive_handler_t *
zhive_registry_lookup (zhive_registry_t *self, const char *function)
{
    return (zhive_handler_t *) zhashx_lookup (self->lookup, function);
}

//  ---------------------------------------------------------------------
//  Number of handlers

size_t
zhive_registry_size (zhive_registry_t *self)
{
    return self->size;
}

//  ---------------------------------------------------------------------
//  The names, in registration order, NULL-terminated

char **
zhive_registry_names (zhive_registry_t *self)
{
    return self->names;
}
