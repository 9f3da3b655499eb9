/* The RP2350's IMAGE_DEF block: the minimum metadata its bootrom needs to boot a flash image
 * (RP2350 datasheet 5.9.5.1, "Minimum Arm IMAGE_DEF"): an executable for Arm in Secure state on
 * RP2350, in a block loop of itself. ld/pico2.ld puts it right after the bootloader's vector
 * table, within the first 4 KiB of flash; the bootrom then enters that vector table (it is at
 * the start of the image). Linked into the bootloader only. Built, not run. */
    .section .picobin, "a"
    .word 0xffffded3           /* PICOBIN_BLOCK_MARKER_START */
    .word 0x10210142           /* IMAGE_TYPE item (1 word): EXE | Secure | Arm | RP2350 */
    .word 0x000001ff           /* LAST item: the items above are 1 word in all */
    .word 0x00000000           /* next block: 0 = this one (a loop of one block) */
    .word 0xab123579           /* PICOBIN_BLOCK_MARKER_END */
