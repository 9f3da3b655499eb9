/* The RP2040's second-stage boot ("boot2"), ours: the bootrom copies the first 256 bytes of
 * flash to SRAM (0x20041f00), checks their CRC-32 (the last 4 bytes, appended by
 * scripts/rp2040-boot2.py) and runs them with the QSPI interface able to read only slowly by
 * hand. We turn execute-in-place on with the bootrom's own flash_enter_cmd_xip (standard 03h
 * serial reads, 24-bit addresses: slow, but right for every flash chip; the fast quad-mode
 * setup of the Raspberry Pi SDK's chip-specific boot2 is not done), then enter the
 * bootloader's vector table at 0x10000100 (ld/pico.ld) as the bootrom would: VTOR, MSP, reset
 * handler. Position-independent (it runs from SRAM); Thumb-1 (Cortex-M0+). boards/
 * rp2_flash_store.c calls the same ROM function after every erase or program, so XIP comes
 * back in exactly this mode. Built, not run. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
    .section .text.boot2, "ax"
    .global boot2_entry
    .thumb_func
boot2_entry:
    movs r0, #0x14
    ldrh r0, [r0]              /* the bootrom's function table (16-bit pointer at 0x14) */
    movs r2, #0x18
    ldrh r2, [r2]              /* rom_table_lookup(table, code) (16-bit pointer at 0x18) */
    ldr r1, =0x5843            /* 'C' | 'X' << 8: flash_enter_cmd_xip */
    blx r2
    blx r0
    ldr r0, =0x10000100        /* the bootloader's vector table */
    ldr r1, =0xe000ed08        /* VTOR */
    str r0, [r1]
    ldmia r0!, {r1, r2}        /* initial SP, reset handler */
    msr msp, r1
    bx r2
    .ltorg
