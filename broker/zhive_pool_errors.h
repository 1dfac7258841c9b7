/*  =========================================================================
    zhive_pool_errors - the pool's recent errors: a fixed ring of the last
    ZHIVE_POOL_ERRORS_MAX tasks that ended in an error, for the dashboard

    Each entry is copied in, truncated to fixed sizes (the message to
    ZHIVE_POOL_ERROR_MESSAGE_MAX bytes, cut on a UTF-8 boundary), so the
    ring's memory is fixed whatever workers send; the bytes are kept as
    they came (a JSON writer escapes them). Recording is a few bounded
    copies, on error paths only.
    =========================================================================
*/
#ifndef ZHIVE_POOL_ERRORS_H_INCLUDED
#define ZHIVE_POOL_ERRORS_H_INCLUDED

#include "zhive_proto.h"
#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define ZHIVE_POOL_ERRORS_MAX        50     //  Errors kept
#define ZHIVE_POOL_ERROR_MESSAGE_MAX 200    //  Bytes of a message kept

//  How a task ended in error, as /metrics names its outcome
typedef enum {
    ZHIVE_POOL_ERROR_FAILED,         //  "error": the worker answered FAILED
    ZHIVE_POOL_ERROR_TIMEOUT,        //  "timeout": its deadline passed
    ZHIVE_POOL_ERROR_WORKER_LOST,    //  "worker_lost": its worker was lost past its retries
    ZHIVE_POOL_ERROR_UNKNOWN_FN,     //  "unknown_function": no worker offered its function
    ZHIVE_POOL_ERROR_QUEUE_FULL      //  "queue_full": its SUBMIT was refused
} zhive_pool_error_kind_t;

typedef struct {
    int64_t at;                                         //  When, µs of the pool's clock
    zhive_pool_error_kind_t kind;                       //  How it ended
    char function [ZHIVE_NAME_MAX + 1];                 //  Its function
    char type [ZHIVE_NAME_MAX + 1];                     //  The error's type (name)
    char message [ZHIVE_POOL_ERROR_MESSAGE_MAX + 1];    //  Its message, truncated
    char worker [ZHIVE_NAME_MAX + 1];                   //  The worker that held it, "" none
} zhive_pool_error_t;

typedef struct {
    zhive_pool_error_t entries [ZHIVE_POOL_ERRORS_MAX];    //  The ring
    size_t next;                                           //  Where the next one goes
    uint64_t recorded;                                     //  Errors recorded so far, all
} zhive_pool_errors_t;

//  ---------------------------------------------------------------------
//  Record an error at now (NULL texts are ""); the oldest is overwritten
//  once the ring is full.
void zhive_pool_errors_record (zhive_pool_errors_t *self, int64_t now, zhive_pool_error_kind_t kind,
                               const char *function, const char *type, const char *message,
                               const char *worker);

//  Errors held now (at most ZHIVE_POOL_ERRORS_MAX).
size_t zhive_pool_errors_size (const zhive_pool_errors_t *self);

//  The error held at index, 0 the newest; NULL past the last.
const zhive_pool_error_t *zhive_pool_errors_get (const zhive_pool_errors_t *self, size_t index);

//  The outcome's name ("error", "timeout", ...), as in zhive_tasks_total.
const char *zhive_pool_errors_outcome (zhive_pool_error_kind_t kind);

#pragma GCC visibility pop

#endif
