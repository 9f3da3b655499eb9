"""What the protocol-server tests check on every kind of board (the emulated Cortex-M boards in
test_device_qemu.py, the ARM Linux runtime in test_linux_runtime.py): small models for the
64 KiB slot, the same scores as the host C core, and raw frame exchanges for the fault cases."""
from __future__ import annotations

import random
import time

import numpy as np

from edgebnn import format as fmt
from edgebnn.device.client import Device
from edgebnn.device.framing import FrameReader
from edgebnn.export import export_model
from edgebnn.native import NativeModel
from tests.conftest import random_model

SHAPE = (8, 8, 1)


def small_models(seed: int) -> dict[str, bytes]:
    """An MLP and a CNN (randomized batch norm) that fit the 64 KiB model slot."""
    mlp = random_model("mlp", SHAPE, 10, seed=seed, layers=[96, 64])
    cnn = random_model("cnn", SHAPE, 10, seed=seed + 1, width=8, fc=32)
    out = {"mlp": fmt.to_bytes(export_model(mlp, SHAPE, 10)),
           "cnn": fmt.to_bytes(export_model(cnn, SHAPE, 10))}
    assert all(len(b) < 65536 for b in out.values())
    return out


def check_serves_like_host_core(dev: Device, models: dict[str, bytes], images: np.ndarray,
                                where: str) -> None:
    """Each model, loaded in turn: INFER scores and classes, EVALUATE's count and READ's bytes
    equal what the host C core gives."""
    labels = np.arange(len(images)) % 10
    for name, data in models.items():
        summary = dev.load(data)
        assert (summary.size, summary.input_shape) == (len(data), SHAPE)
        expected = NativeModel(data).infer(images)
        result = dev.infer(images)
        assert np.array_equal(result.scores, expected), f"{where} {name}: scores differ"
        assert np.array_equal(result.classes, expected.argmax(1))
        correct, n, cycles = dev.evaluate(images, labels)
        assert (correct, n) == (int((expected.argmax(1) == labels).sum()), len(images))
        assert cycles > 0
        assert dev.read_model() == data


def write_garbage(dev: Device, rng: random.Random, fake_header_bytes: int) -> None:
    """Line noise, then the sync bytes and part of a header: the server must skip all of it."""
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    dev.link.write(junk + b"\xEB\x4E" + bytes(rng.randrange(256)
                                              for _ in range(fake_header_bytes)))


def raw_exchange(dev: Device, data: bytes, timeout: float = 2.0) -> list:
    """Writes raw bytes and returns the frames that come back within the timeout (at least
    one unless none is due)."""
    dev.link.write(data)
    reader = FrameReader()
    deadline = time.monotonic() + timeout
    frames = []
    while time.monotonic() < deadline:
        dev.link.timeout = 0.05
        reader.feed(dev.link.read(4096))
        frames += reader.frames()
        if frames and reader.pending == 0:
            break
    return frames
