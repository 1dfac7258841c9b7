/*  =========================================================================
    zhive_answer - what tasks and maps share to make results and payloads:
    the result of an answer, the client's own Timeout, a payload frame
    (declared in zhive_client_private.h)
    =========================================================================
*/
#include "zhive_client_private.h"

//  ---------------------------------------------------------------------
//  Make a payload frame from an optional prefix byte and bytes
int
zhive_payload_init (zmq_msg_t *frame, const uint8_t *prefix, size_t prefix_size, const void *data,
                    size_t size)
{
    if (zmq_msg_init_size (frame, prefix_size + size)) {
        zmq_msg_init (frame);
        return -1;
    }
    uint8_t *bytes = (uint8_t *) zmq_msg_data (frame);
    if (prefix_size)
        memcpy (bytes, prefix, prefix_size);
    if (size)
        memcpy (bytes + prefix_size, data, size);
    return 0;
}

//  ---------------------------------------------------------------------
//  Make the result an answer stands for

zhive_result_t *
zhive_answer_result (zhive_answer_t *answer)
{
    if (answer->value)
        return zhive_result_new_frame (answer->value);
    return zhive_result_new_error (answer->type, answer->message, answer->worker);
}

//  ---------------------------------------------------------------------
//  The client's own Timeout for a task past its backstop
zhive_result_t *
zhive_timeout_result (const char *function, int64_t timeout_ms)
{
    char text [512];
    snprintf (text, sizeof text,
              "no answer for '%s' within %lld ms (the broker did not reply in time)", function,
              (long long) timeout_ms);
    return zhive_result_new_error (ZHIVE_ERR_TIMEOUT, text, "");
}
