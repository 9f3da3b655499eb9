/* A 64-bit monotonic cycle counter built on the 24-bit SysTick (runs at the core clock). */
#ifndef EBNN_SYSTICK_H
#define EBNN_SYSTICK_H

#include <stdint.h>

void systick_init(void);
uint64_t systick_cycles(void);

#endif
