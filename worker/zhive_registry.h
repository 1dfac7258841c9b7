/*  =========================================================================
    zhive_registry - a worker's handlers, by function name (private)

    What zhive_worker_register adds: each function name once, with its
    handler, the handler's pointer and whether it is sync or async. READY
    offers the names in registration order; a TASK finds its handler by
    name.
    =========================================================================
*/
#ifndef ZHIVE_REGISTRY_H_INCLUDED
#define ZHIVE_REGISTRY_H_INCLUDED

#include "zhive_worker.h"

#ifdef __cplusplus
extern "C" {
#endif

//  A registered handler (the registry owns it)
typedef struct {
    char *name;              //  Function name offered to the broker
    zhive_handler_fn *fn;    //  The handler
    void *state;             //  The handler's pointer from registration
    int flags;               //  ZHIVE_SYNC or ZHIVE_ASYNC
} zhive_handler_t;

typedef struct _zhive_registry_t zhive_registry_t;

//  ---------------------------------------------------------------------
//  Create an empty registry. Returns NULL if out of memory.
zhive_registry_t *zhive_registry_new (void);

//  Destroy the registry and its handlers; safe with *self_p NULL.
void zhive_registry_destroy (zhive_registry_t **self_p);

//  Add a handler for function (copied). Returns 0, or -1 with errno
//  EINVAL (empty name, longer than ZHIVE_NAME_MAX, no handler, flags not
//  ZHIVE_SYNC or ZHIVE_ASYNC), EEXIST (name taken), E2BIG (more than
//  ZHIVE_FUNCTIONS_MAX functions) or ENOMEM.
int zhive_registry_add (zhive_registry_t *self, const char *function, zhive_handler_fn *fn,
                        void *state, int flags);

//  The handler of function, or NULL.
zhive_handler_t *zhive_registry_lookup (zhive_registry_t *self, const char *function);

//  Number of handlers.
size_t zhive_registry_size (zhive_registry_t *self);

//  The function names in registration order, zhive_registry_size of them
//  then NULL (borrowed; valid until the next add).
char **zhive_registry_names (zhive_registry_t *self);

#ifdef __cplusplus
}
#endif

#endif
