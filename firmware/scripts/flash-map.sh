#!/bin/sh
# The part's flash map (docs/boot.md) from the bootloader ELF's flash-map symbols
# (ld/flashmap.ld): bootloader region + 2 application slots + 2 model slots against the part's
# flash. Exits 1 over budget (the linker ASSERTs should already have caught it).
set -eu
elf=$1
board=$2
CROSS=${CROSS:-arm-none-eabi-}

sym() { echo $((0x$("${CROSS}nm" "$elf" | awk -v s="$1" '$3 == s { print $1 }'))); }
part=$(sym __part_flash)
boot=$(sym __boot_size)
app=$(sym __app_slot_size)
model=$(sym __model_slot_size)
used=$((boot + 2 * app + 2 * model))
awk -v b="$board" -v boot="$boot" -v app="$app" -v model="$model" -v used="$used" -v part="$part" 'BEGIN {
    printf "[size] %s flash map: boot %d + 2 x app slot %d + 2 x model slot %d = %d / %d B (%.2f%%)\n",
        b, boot, app, model, used, part, 100.0 * used / part
    if (used > part) { printf "[size] %s: flash map OVER BUDGET\n", b; exit 1 }
}'
