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
#   defs   (optional) more -D flags for the board layer (e.g. the UART's pins; BOARD_NO_VTOR
#          for a core without VTOR, the Cortex-M0: the bootloader leaves the vector table alone)
#   boot2  (optional) boards/<boot2>.S: a boot stage the part's ROM runs and checks first (the
#          RP2040's 256-byte boot2), linked at the start of the bootloader with its CRC-32
#          (scripts/rp2040-boot2.py); ld/<board>.ld places it
#   boot_srcs  (optional) more sources of the bootloader only, space-separated (e.g. the RP2350's
#          IMAGE_DEF block, boards/rp2350_imagedef.S); ld/<board>.ld places what they hold
#   uf2_family  (optional) the UF2 family ID its ROM's USB drive takes (edgebnn firmware image
#          --format uf2): RP2040 0xe48bff56, RP2350 Arm Secure 0xe48bff59
# A board QEMU does not model has `qemu := none` and no qemu_ram: it is built and size-checked
# (tests/test_firmware_boot.py), never run, and labelled "built, not run" (docs/boards.md).

BOARDS := mps2-an386 mps2-an500 mps3-an547 mps2-an505 netduinoplus2 nucleo-f446re pico pico2

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
microbit.defs  := -DNRF_UART_TX_PIN=24u -DNRF_UART_RX_PIN=25u -DBOARD_NO_VTOR
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
# Built, not run (QEMU does not model these parts). Nucleo-F446RE: STM32F446RE (Cortex-M4F),
# run at 168 MHz by the same layer as netduinoplus2 (same PLL from the HSI; the part allows 180);
# console USART2 on PA2/PA3 = the ST-LINK virtual COM port; the store is the real flash driver
# on the 16/64/128 KiB sectors; the IWDG is not driven (no watchdog).
nucleo-f446re.cpu   := cortex-m4
nucleo-f446re.fpu   := -mfpu=fpv4-sp-d16 -mfloat-abi=hard
nucleo-f446re.qemu  := none
nucleo-f446re.uart0 := 0x40004400
nucleo-f446re.clock := 168000000
nucleo-f446re.layer := stm32f4_usart
nucleo-f446re.drivers := stm32_usart stm32f4_flash
nucleo-f446re.store := 0x08008000
nucleo-f446re.store_layer := stm32f4_store
nucleo-f446re.flashmap := flashmap-stm32f4
nucleo-f446re.model_slot := 32768
nucleo-f446re.heap  := 40960
nucleo-f446re.app_slot := 98304
nucleo-f446re.irqs  := 97
nucleo-f446re.watchdog := none
nucleo-f446re.watchdog_clock := 0

# Raspberry Pi Pico: RP2040 (Cortex-M0+, ARMv6-M: the Thumb-1 kernel, native/src/kernels/armv6m.c), 125 MHz
# from the 12 MHz crystal; UART0 (PL011) on GP0/GP1; 2 MiB QSPI flash in place at 0x10000000,
# boot2 first, a 64 KiB bootloader region (ld/pico.ld: a signed bootloader needs more than 32);
# the store through the bootrom's flash functions; its watchdog is not driven.
pico.cpu   := cortex-m0plus
pico.fpu   := -mfloat-abi=soft
pico.qemu  := none
pico.uart0 := 0x40034000
pico.clock := 125000000
pico.layer := rp2_pl011
pico.drivers := pl011_uart
pico.store := 0x10010000
pico.store_layer := rp2_flash_store
pico.boot2 := rp2040_boot2
pico.uf2_family := 0xe48bff56
pico.model_slot := 98304
pico.heap  := 40960
pico.app_slot := 262144
pico.irqs  := 26
pico.watchdog := none
pico.watchdog_clock := 0

# Raspberry Pi Pico 2: RP2350 (Cortex-M33 with DSP and FPU, Secure: the M4's SWAR/DSP kernels),
# 150 MHz from the 12 MHz crystal; UART0 (PL011) on GP0/GP1; 4 MiB QSPI flash in place at
# 0x10000000, the IMAGE_DEF block after the bootloader's vectors; store as the Pico's.
pico2.cpu   := cortex-m33
pico2.fpu   := -mfpu=fpv5-sp-d16 -mfloat-abi=hard
pico2.qemu  := none
pico2.uart0 := 0x40070000
pico2.clock := 150000000
pico2.layer := rp2_pl011
pico2.drivers := pl011_uart
pico2.store := 0x10008000
pico2.store_layer := rp2_flash_store
pico2.boot_srcs := boards/rp2350_imagedef.S
pico2.uf2_family := 0xe48bff59
pico2.model_slot := 196608
pico2.heap  := 98304
pico2.app_slot := 262144
pico2.irqs  := 52
pico2.watchdog := none
pico2.watchdog_clock := 0

BOARDS += nrf52840dk

# nRF52840 DK: nRF52840, Cortex-M4F at 64 MHz, 1 MiB flash (4 KiB pages), 256 KiB RAM. Built,
# not run (QEMU does not model the nRF52). The microbit's drivers: the legacy UART (UART0 at
# 0x40002000 has the nRF51 layout) on P0.06 (TX) / P0.08 (RX), the J-Link OB's virtual COM
# port; the NVMC store; TIMER0 as the clock's counter. Its WDT is not driven (no watchdog).
nrf52840dk.cpu   := cortex-m4
nrf52840dk.fpu   := -mfpu=fpv4-sp-d16 -mfloat-abi=hard
nrf52840dk.qemu  := none
nrf52840dk.uart0 := 0x40002000
nrf52840dk.clock := 64000000
nrf52840dk.layer := nrf5x
nrf52840dk.drivers := nrf_uart nrf_nvmc
nrf52840dk.defs  := -DNRF_UART_TX_PIN=6u -DNRF_UART_RX_PIN=8u
nrf52840dk.store := 0x00008000
nrf52840dk.store_layer := nrf_nvmc_store
nrf52840dk.model_slot := 98304
nrf52840dk.heap  := 40960
nrf52840dk.app_slot := 131072
nrf52840dk.irqs  := 48
nrf52840dk.watchdog := none
nrf52840dk.watchdog_clock := 0
