# The board table: the single source of truth for every board the firmware supports.
# Read by firmware/Makefile (as make variables) and by edgebnn/device/qemu.py (parsed as text),
# so keep to the strict form `<board>.<key> := <value>` (one per line, no make functions).
# The part's memory is its linker script's (ld/<board>.ld); here, how the firmware fills it.
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
#   model_slot  bytes of .ebnn per model slot (two in RAM, two in flash: docs/boot.md)
#   heap   the arena (RAM) for inference and training scratch
#   app_slot  bytes per application slot in flash, header included (two)
#   drivers  (optional) more drivers/<name>.c the layers need, space-separated
#   qemu_store  (optional) rom: QEMU maps the part's flash as ROM and models no flash interface;
#          the store file is loaded into it at start (-device loader at the qemu_ram base, which
#          is then the store region) and written back through semihosting (boards/semihost_store.c)
#   qemu_serial  (optional) QEMU's -serial index of the console UART (default 0)
#   qemu_store  soc: QEMU models the part's flash and its controller inside the SoC, backed by no
#          file: edgebnn/device/qemu.py writes the store file into it at start through the
#          gdbstub, and the store driver copies what the controller changed back into the file
#          through semihosting (boards/nrf_nvmc_store.c, docs/boot.md)
#   payload  (optional) PROTO_MAX_PAYLOAD, the largest frame payload (default 4096)
#   boot_stack  (optional) the bootloader's stack in bytes (default 4096)
#   defs   (optional) more -D flags for the board layer (e.g. the UART's pins)

BOARDS := mps2-an386 mps2-an500 mps3-an547 mps2-an505 netduinoplus2

mps2-an386.cpu   := cortex-m4
mps2-an386.fpu   := -mfpu=fpv4-sp-d16 -mfloat-abi=hard
mps2-an386.qemu  := mps2-an386
mps2-an386.uart0 := 0x40004000
mps2-an386.clock := 25000000
mps2-an386.layer := cmsdk_systick
mps2-an386.store := 0x21000000
mps2-an386.store_layer := mapped_store
mps2-an386.qemu_ram := 0x21000000 16M
mps2-an386.model_slot := 1048576
mps2-an386.heap  := 1048576
mps2-an386.app_slot := 524288
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
mps2-an500.model_slot := 1048576
mps2-an500.heap  := 1048576
mps2-an500.app_slot := 524288
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
mps3-an547.model_slot := 196608
mps3-an547.heap  := 98304
mps3-an547.app_slot := 524288
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
mps2-an505.model_slot := 1048576
mps2-an505.heap  := 1048576
mps2-an505.app_slot := 524288
mps2-an505.irqs  := 92
mps2-an505.watchdog := 0x50081000
mps2-an505.watchdog_clock := 20000000

# STM32F405RG (Cortex-M4F, 168 MHz). Console USART2 (QEMU's second -serial: USART1 is the first).
# QEMU 7.2 models no flash interface (ROM) and no watchdog (WWDG/IWDG are stubs). The real
# flash driver is boards/stm32f4_store.c (make STORE_LAYER=stm32f4_store: built, not run).
netduinoplus2.cpu   := cortex-m4
netduinoplus2.fpu   := -mfpu=fpv4-sp-d16 -mfloat-abi=hard
netduinoplus2.qemu  := netduinoplus2
netduinoplus2.uart0 := 0x40004400
netduinoplus2.clock := 168000000
netduinoplus2.layer := stm32f4_usart
netduinoplus2.drivers := stm32_usart stm32f4_flash
netduinoplus2.store := 0x08008000
netduinoplus2.store_layer := semihost_store
netduinoplus2.flashmap := flashmap-stm32f4
netduinoplus2.qemu_ram := 0x08008000 992K
netduinoplus2.qemu_store := rom
netduinoplus2.qemu_serial := 1
netduinoplus2.model_slot := 32768
netduinoplus2.heap  := 40960
netduinoplus2.app_slot := 98304
netduinoplus2.irqs  := 82
netduinoplus2.watchdog := none
netduinoplus2.watchdog_clock := 0

BOARDS += microbit

# BBC micro:bit v1: nRF51822, Cortex-M0 (ARMv6-M: Thumb-1, no DSP, no VTOR, no SysTick on the
# part), 16 MHz, 256 KiB flash in 1 KiB pages, 16 KiB RAM. Console: UART0 on P0.24/P0.25, the
# interface chip's virtual COM port. QEMU models the UART, TIMER0 and the NVMC; no watchdog.
microbit.cpu   := cortex-m0
microbit.fpu   :=
microbit.qemu  := microbit
microbit.uart0 := 0x40002000
microbit.clock := 16000000
microbit.layer := nrf5x
microbit.drivers := nrf_uart nrf_nvmc
microbit.defs  := -DNRF_UART_TX_PIN=24u -DNRF_UART_RX_PIN=25u
microbit.store := 0x00004000
microbit.store_layer := nrf_nvmc_store
microbit.qemu_ram := 0x00004000 240K
microbit.qemu_store := soc
microbit.payload := 256
microbit.boot_stack := 2048
microbit.model_slot := 4096
microbit.heap  := 2816
microbit.app_slot := 65536
microbit.irqs  := 32
microbit.watchdog := none
microbit.watchdog_clock := 0
