/*  =========================================================================
    zhive_private - declarations shared inside libzhive, not public
    =========================================================================
*/
#ifndef ZHIVE_PRIVATE_H_INCLUDED
#define ZHIVE_PRIVATE_H_INCLUDED

#include "zhive_result.h"

//  Set the input position of a map result.
void zhive_result_set_index (zhive_result_t *self, size_t index);

//  Monotonic clock in milliseconds.
int64_t zhive_clock_ms (void);

#endif
