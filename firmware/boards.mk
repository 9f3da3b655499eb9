# The board table: the single source of truth for every board the firmware supports.
# Read by firmware/Makefile (as make variables) and by edgebnn/device/qemu.py (parsed as text),
# so keep to the strict form `<board>.<key> := <value>` (one per line, no make functions).
# Memory sizes are NOT here: each board's linker script (ld/<board>.ld) owns its budget.
#
#   cpu    -mcpu value           fpu    FPU/float-ABI flags for that core
#   qemu   qemu-system-arm -M    uart0  UART0 base (CMSDK APB UART)
#   clock  core clock in Hz (also the SysTick rate)    irqs  external IRQ vectors in the table
#   layer  board layer source: boards/<layer>.c
#   store  base address of the persistent store (the flash after the bootloader; docs/boot.md)
#   store_layer  its driver: boards/<store_layer>.c
#   flashmap  (optional) ld/<flashmap>.ld instead of ld/flashmap.ld: slots on uneven sectors
#   qemu_ram  QEMU's machine RAM (base, size): edgebnn/device/qemu.py backs it with the store
#          file (-machine memory-backend=...), so `store` must lie inside it
#   watchdog  base of its CMSDK APB watchdog (drivers/cmsdk_watchdog.c), or none (docs/boot.md)
#   watchdog_clock  that watchdog's clock in Hz

BOARDS := mps2-an386 mps2-an500 mps3-an547 mps2-an505

mps2-an386.cpu   := cortex-m4
mps2-an386.fpu   := -mfpu=fpv4-sp-d16 -mfloat-abi=hard
mps2-an386.qemu  := mps2-an386
mps2-an386.uart0 := 0x40004000
mps2-an386.clock := 25000000
mps2-an386.layer := cmsdk_systick
mps2-an386.store := 0x21000000
mps2-an386.store_layer := mapped_store
mps2-an386.qemu_ram := 0x21000000 16M
mps2-an386.irqs  := 32
mps2-an386.watchdog := 0x40008000
mps2-an386.watchdog_clock := 25000000

mps2-an500.cpu   := cortex-m7
mps2-an500.fpu   := -mfpu=fpv5-d16 -mfloat-abi=hard
mps2-an500.qemu  := mps2-an500
mps2-an500.uart0 := 0x40004000
mps2-an500.clock := 25000000
mps2-an500.layer := cmsdk_systick
mps2-an500.store := 0x60000000
mps2-an500.store_layer := mapped_store
mps2-an500.qemu_ram := 0x60000000 16M
mps2-an500.irqs  := 32
mps2-an500.watchdog := 0x40008000
mps2-an500.watchdog_clock := 25000000

mps3-an547.cpu   := cortex-m55
mps3-an547.fpu   := -mfloat-abi=hard
mps3-an547.qemu  := mps3-an547
mps3-an547.uart0 := 0x59303000
mps3-an547.clock := 32000000
mps3-an547.layer := cmsdk_systick
mps3-an547.store := 0x70000000
mps3-an547.store_layer := mapped_store
mps3-an547.qemu_ram := 0x60000000 2048M
mps3-an547.irqs  := 96
mps3-an547.watchdog := 0x5802e000
mps3-an547.watchdog_clock := 32768

mps2-an505.cpu   := cortex-m33
mps2-an505.fpu   := -mfpu=fpv5-sp-d16 -mfloat-abi=hard
mps2-an505.qemu  := mps2-an505
mps2-an505.uart0 := 0x50200000
mps2-an505.clock := 20000000
mps2-an505.layer := cmsdk_systick
mps2-an505.store := 0x80000000
mps2-an505.store_layer := mapped_store
mps2-an505.qemu_ram := 0x80000000 16M
mps2-an505.irqs  := 92
mps2-an505.watchdog := 0x50081000
mps2-an505.watchdog_clock := 20000000
