/*  =========================================================================
    zhive_result - the outcome of one task: a value, or an error

    Every task ends with exactly one result. An error result carries a type
    (a short CamelCase word; see ZHIVE_ERR_* below, or whatever a handler
    chose), a message, and the worker that raised it (empty when the error
    did not come from a worker).
    =========================================================================
*/
#ifndef ZHIVE_RESULT_H_INCLUDED
#define ZHIVE_RESULT_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zhive_export.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Error types made by zhive itself (handlers may use their own).
#define ZHIVE_ERR_TIMEOUT     "Timeout"            //  deadline passed before a result
#define ZHIVE_ERR_NO_BROKER   "NoBroker"           //  the broker did not answer
#define ZHIVE_ERR_MALFORMED   "Malformed"          //  a message or value was not valid
#define ZHIVE_ERR_BAD_ARGS    "BadArguments"       //  arguments a handler cannot use
#define ZHIVE_ERR_HANDLER     "HandlerError"       //  a handler failed without saying why
#define ZHIVE_ERR_UNKNOWN_FN  "UnknownFunction"    //  no worker offers the function
#define ZHIVE_ERR_WORKER_LOST "WorkerLost"         //  the worker died holding the task
#define ZHIVE_ERR_CANCELLED   "Cancelled"          //  the client cancelled the task
#define ZHIVE_ERR_QUEUE_FULL  "QueueFull"          //  the broker refused the task
#define ZHIVE_ERR_SHUTDOWN    "BrokerShutdown"     //  the broker stopped first
#define ZHIVE_ERR_TOO_LARGE   "TooLarge"           //  a result would unpack past ZHIVE_UNPACK_MAX

typedef struct _zhive_result_t zhive_result_t;

//  ---------------------------------------------------------------------
//  Destroy a result; safe to call with *self_p NULL.
ZHIVE_EXPORT void zhive_result_destroy (zhive_result_t **self_p);

//  True if the task succeeded and the result holds a value.
ZHIVE_EXPORT bool zhive_result_ok (const zhive_result_t *self);

//  The value (borrowed, valid while the result lives), or NULL on error.
ZHIVE_EXPORT const msgpack_object *zhive_result_value (const zhive_result_t *self);

//  The value's msgpack bytes (borrowed), or NULL on error.
ZHIVE_EXPORT const char *zhive_result_data (const zhive_result_t *self, size_t *size);

//  Error type, message, and the worker that raised it; "" when ok.
ZHIVE_EXPORT const char *zhive_result_error_type (const zhive_result_t *self);
ZHIVE_EXPORT const char *zhive_result_error_message (const zhive_result_t *self);
ZHIVE_EXPORT const char *zhive_result_error_worker (const zhive_result_t *self);

//  Position of the task's input in a map or starmap (0 for apply/submit).
ZHIVE_EXPORT size_t zhive_result_index (const zhive_result_t *self);

//  Make a result holding an error; used by the library and by tests.
//  Caller owns the return value. Returns NULL only if out of memory.
ZHIVE_EXPORT zhive_result_t *zhive_result_new_error (const char *type, const char *message,
                                                     const char *worker);

//  Make a result holding a copy of `size` bytes of msgpack. Returns NULL
//  if out of memory, or an error result of type Malformed if the bytes are
//  not exactly one valid msgpack value.
ZHIVE_EXPORT zhive_result_t *zhive_result_new_value (const void *data, size_t size);

#ifdef __cplusplus
}
#endif

#endif
