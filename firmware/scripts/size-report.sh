#!/bin/sh
# Flash/RAM usage of a firmware ELF against the budget of the part it models.
#   flash = text (+rodata, tables) + data (its load image)
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

"${CROSS}size" -A -d "$elf" | awk -v board="$board" -v fb="$flash_budget" -v rb="$ram_budget" '
    $1 == ".data"  { data  += $2; next }
    $1 == ".bss"   { bss   += $2; next }
    $1 == ".stack" { stack += $2; next }
    $1 == ".heap"  { heap  += $2; next }
    $1 ~ /^\.(vectors|text|ARM\.extab|ARM\.exidx|init_array)$/ { text += $2; next }
    END {
        flash = text + data; ram = data + bss + stack + heap
        printf "[size] %s flash: %d / %d B (%.2f%%)  text=%d data=%d\n", board, flash, fb, 100.0 * flash / fb, text, data
        printf "[size] %s RAM:   %d / %d B (%.2f%%)  data=%d bss=%d stack=%d heap=%d\n", board, ram, rb, 100.0 * ram / rb, data, bss, stack, heap
        if (flash > fb || ram > rb) { printf "[size] %s: OVER BUDGET\n", board; exit 1 }
    }'
