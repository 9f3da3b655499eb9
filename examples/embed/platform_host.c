/* platform.h on a host: stdio. */
#include <stdio.h>

#include "platform.h"

void platform_init(void) {}

void platform_print(const char *text) { fputs(text, stdout); }

void platform_print_int(int32_t value) { printf("%ld", (long)value); }

int platform_exit(int status)
{
    fflush(stdout);
    return status;
}
