"""The STM32F4 flash driver (firmware/drivers/stm32f4_flash.c) and the store on it
(firmware/boards/stm32f4_store.c), compiled unchanged for the host against a register-level model
of the flash interface (tests/native/stm32f4/stm32f4_flash_model.c: lock/unlock, sector geometry,
erase-before-write, BSY, error flags) under ASan/UBSan, with a random seed. QEMU models no STM32F4
flash interface, so on silicon this driver is "built, not run": the firmware build with it
(`make BOARD=netduinoplus2 STORE_LAYER=stm32f4_store`) is checked to link."""
from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FW = ROOT / "firmware"
NATIVE_TESTS = ROOT / "tests" / "native" / "stm32f4"   # its own build, outside native/Makefile's test glob
SOURCES = [FW / "drivers" / "stm32f4_flash.c", FW / "boards" / "stm32f4_store.c",
           NATIVE_TESTS / "stm32f4_flash_model.c", NATIVE_TESTS / "test_stm32f4_flash.c"]
# The store where ld/flashmap-stm32f4.ld puts it: the flash after the 32 KiB bootloader.
MODEL_DEFS = ["-DSTM32F4_FLASH_REGS=model",
              "-DSTM32F4_STORE_BASE=((uintptr_t)model.flash + 32768u)",
              "-DSTM32F4_STORE_SIZE=(MODEL_FLASH_SIZE - 32768u)",
              "-DSTM32F4_FLASH_START=((uintptr_t)model.flash)",
              "-include", "stm32f4_flash_model.h"]


def test_driver_against_the_flash_interface_model(tmp_path):
    if shutil.which("cc") is None:
        pytest.skip("cc not installed")
    exe = tmp_path / "test_stm32f4_flash"
    r = subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1",
                        "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                        f"-I{FW / 'boards'}", f"-I{FW / 'drivers'}", f"-I{NATIVE_TESTS}",
                        *MODEL_DEFS, *map(str, SOURCES), "-o", str(exe)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    seed = random.randrange(1, 2**31)
    r = subprocess.run([str(exe), str(seed), "3000"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "all passed" in r.stdout, r.stdout + r.stderr


def test_firmware_with_the_real_flash_driver_builds(tmp_path):
    """Built, not run: the netduinoplus2 firmware on the STM32F4 flash driver links and fits."""
    missing = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    r = subprocess.run(["make", "-C", str(FW), "BOARD=netduinoplus2", "STORE_LAYER=stm32f4_store",
                        f"BUILD={tmp_path}"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for elf in ("edgebnn-boot.elf", "edgebnn-fw.elf"):
        nm = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "netduinoplus2" / elf)],
                            capture_output=True, text=True, timeout=30, check=True).stdout
        assert " stm32f4_flash_erase" in nm and " stm32f4_flash_program" in nm, elf
        assert " semihost_pwrite" not in nm, f"{elf} still writes its store through semihosting"
