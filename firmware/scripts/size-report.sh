#!/bin/sh
# Flash/RAM usage of a firmware ELF against the budget of the part it models.
#   flash = text (+rodata, tables) + data (its load image) + the alignment padding between
#           them (a vector table that is not a multiple of 8 bytes leaves 4 before .text):
#           the .bin's size, i.e. to the end of .data's load image (the linker's __flash_used)
#           or, with no .data, to the end of the last flash section
#   RAM   = data + bss + stack + heap
# Budgets come from the ELF itself (__flash_budget: its region, the bootloader region or the
# application slot; __ram_budget: the part's SRAM; set by ld/*.ld).
# Exits 1 when either is over budget (the linker ASSERTs should already have caught it).
set -eu
elf=$1
board=$2   # a label: the board, or "<board> boot" for the bootloader
CROSS=${CROSS:-arm-none-eabi-}

sym() { "${CROSS}nm" "$elf" | awk -v s="$1" '$3 == s { print $1 }'; }
flash_budget=$((0x$(sym __flash_budget)))
ram_budget=$((0x$(sym __ram_budget)))
flash_used=$((0x$(sym __flash_used)))
flash_origin=$((0x$(sym __flash_origin)))

"${CROSS}size" -A -d "$elf" | awk -v board="$board" -v fb="$flash_budget" -v rb="$ram_budget" -v fu="$flash_used" -v fo="$flash_origin" '
    $1 == ".data"  { data  += $2; next }
    $1 == ".bss"   { bss   += $2; next }
    $1 == ".stack" { stack += $2; next }
    $1 == ".heap"  { heap  += $2; next }
    $1 ~ /^\.(vectors|text|ARM\.extab|ARM\.exidx|init_array)$/ {
        text += $2; if ($2 > 0 && $3 + $2 > end) end = $3 + $2; next }
    END {
        flash = data > 0 ? fu : end - fo; ram = data + bss + stack + heap
        printf "[size] %s flash: %d / %d B (%.2f%%)  text=%d data=%d\n", board, flash, fb, 100.0 * flash / fb, text, data
        printf "[size] %s RAM:   %d / %d B (%.2f%%)  data=%d bss=%d stack=%d heap=%d\n", board, ram, rb, 100.0 * ram / rb, data, bss, stack, heap
        if (flash > fb || ram > rb) { printf "[size] %s: OVER BUDGET\n", board; exit 1 }
    }'
