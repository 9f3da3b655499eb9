/* Only for the native build on x86 (Makefile: forced into app/server_main.c with -include).
 * The server's TEST_FAULT executes the Arm instruction `udf #0`; x86 assemblers have no `udf`,
 * so it becomes an assembler macro for `ud2`, the x86 undefined instruction: the same SIGILL,
 * reported by fault.c. (In x86 assembly `#` starts a comment, so the macro takes no operand.) */
__asm__(".macro udf\n\tud2\n.endm");
