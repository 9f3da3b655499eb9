/* ARM semihosting, only the call the test harness needs: end the simulation with a status. */
#ifndef EBNN_SEMIHOST_H
#define EBNN_SEMIHOST_H

/* Returns only if no debugger/QEMU handled the call (then the caller should reset). On real
 * hardware without a debugger the BKPT escalates to HardFault instead: tests only. */
void semihost_exit(int status);

#endif
