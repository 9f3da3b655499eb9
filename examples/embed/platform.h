/* What the example needs from the platform: somewhere to print, and a way to stop. Each target
 * supplies these (platform_host.c: stdio; platform_mps2.c: firmware/'s UART and semihosting);
 * in your own firmware they are your SDK's UART driver and whatever "done" means there. */
#ifndef EMBED_PLATFORM_H
#define EMBED_PLATFORM_H

#include <stdint.h>

void platform_init(void);
void platform_print(const char *text);
void platform_print_int(int32_t value);
/* Ends the program with `status` where that means something (host, QEMU); returns it. */
int platform_exit(int status);

#endif
