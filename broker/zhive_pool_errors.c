/*  =========================================================================
    zhive_pool_errors - the pool's recent errors, a fixed ring
    =========================================================================
*/
#include "zhive_pool_errors.h"
#include <string.h>

//  Copy text into out (size bytes with the NUL), cut before a UTF-8
//  sequence that would not fit whole
static void
s_copy (char *out, size_t size, const char *text)
{
    size_t length = text ? strnlen (text, size) : 0;
    if (length == size) {
        length = size - 1;
        //  Back off continuation bytes, then the lead byte they follow
        size_t cut = length;
        while (cut > 0 && ((unsigned char) text [cut] & 0xC0) == 0x80)
            cut--;
        if (cut < length && ((unsigned char) text [cut] & 0xC0) == 0xC0)
            length = cut;
    }
    if (length)
        memcpy (out, text, length);
    out [length] = 0;
}

void
zhive_pool_errors_record (zhive_pool_errors_t *self, int64_t now, zhive_pool_error_kind_t kind,
                          const char *function, const char *type, const char *message,
                          const char *worker)
{
    zhive_pool_error_t *entry = &self->entries [self->next];
    entry->at = now;
    entry->kind = kind;
    s_copy (entry->function, sizeof entry->function, function);
    s_copy (entry->type, sizeof entry->type, type);
    s_copy (entry->message, sizeof entry->message, message);
    s_copy (entry->worker, sizeof entry->worker, worker);
    self->next = (self->next + 1) % ZHIVE_POOL_ERRORS_MAX;
    self->recorded++;
}

size_t
zhive_pool_errors_size (const zhive_pool_errors_t *self)
{
    return self->recorded < ZHIVE_POOL_ERRORS_MAX ? (size_t) self->recorded : ZHIVE_POOL_ERRORS_MAX;
}

const zhive_pool_error_t *
zhive_pool_errors_get (const zhive_pool_errors_t *self, size_t index)
{
    if (index >= zhive_pool_errors_size (self))
        return NULL;
    size_t at = (self->next + ZHIVE_POOL_ERRORS_MAX - 1 - index) % ZHIVE_POOL_ERRORS_MAX;
    return &self->entries [at];
}

const char *
zhive_pool_errors_outcome (zhive_pool_error_kind_t kind)
{
    switch (kind) {
        case ZHIVE_POOL_ERROR_FAILED: return "error";
        case ZHIVE_POOL_ERROR_TIMEOUT: return "timeout";
        case ZHIVE_POOL_ERROR_WORKER_LOST: return "worker_lost";
        case ZHIVE_POOL_ERROR_UNKNOWN_FN: return "unknown_function";
        case ZHIVE_POOL_ERROR_QUEUE_FULL: return "queue_full";
    }
    return "error";
}
