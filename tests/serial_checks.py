"""What the protocol-server tests check on every kind of board (the emulated Cortex-M boards in
test_device_qemu.py, the ARM Linux runtime in test_linux_runtime.py): small models for the
64 KiB slot, the same scores as the host C core, and raw frame exchanges for the fault cases."""
from __future__ import annotations

import random
import struct
import time
import zlib

import numpy as np
import pytest

from edgebnn import format as fmt
from edgebnn.device.client import Device, StoredModel
from edgebnn.device.errors import CommandError
from edgebnn.device.framing import Cmd, FrameReader, Status
from edgebnn.errors import UsageError
from edgebnn.export import export_model
from edgebnn.native import NativeModel
from tests.conftest import random_model

SHAPE = (8, 8, 1)


def small_models(seed: int, width: int = 8, fc: int = 32) -> dict[str, bytes]:
    """An MLP and a CNN (randomized batch norm) that fit the 64 KiB model slot (width=4, fc=16:
    2,592 bytes, the micro:bit's 4 KiB one)."""
    mlp = random_model("mlp", SHAPE, 10, seed=seed, layers=[96, 64])
    cnn = random_model("cnn", SHAPE, 10, seed=seed + 1, width=width, fc=fc)
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


def check_ram_loads_keep_the_stored_model(dev: Device, models: dict[str, bytes],
                                          images: np.ndarray) -> None:
    """A RAM-only LOAD_COMMIT makes a model active and leaves the stored one (INFO tells them
    apart, RESET restores the stored one); a malformed LOAD_COMMIT is refused with the upload
    still open; TRAIN_SAVE stores the active model under its name."""
    a, b = models["mlp"], models["cnn"]
    stored_a = StoredModel(len(a), zlib.crc32(a), "a.ebnn")
    dev.load(a, name="a.ebnn")
    info = dev.info()
    assert (info.stored, info.active_is_stored, info.model_name) == (stored_a, True, "a.ebnn")
    dev.load(b, ram_only=True, name="b.ebnn")
    info = dev.info()
    assert (info.model.size, info.model.crc, info.model_name) == (len(b), zlib.crc32(b),
                                                                  "b.ebnn")
    assert (info.stored, info.active_is_stored) == (stored_a, False)
    assert np.array_equal(dev.infer(images).scores, NativeModel(b).infer(images))


    dev.upload(Cmd.LOAD_BEGIN, Cmd.LOAD_CHUNK, a)
    for bad in (b"\x02", b"\x01a.ebnn", b"\x01" + b"x" * 32 + b"\0"):   # mode, NUL, length
        with pytest.raises(CommandError, match="ERR_BAD_REQUEST"):
            dev.request(Cmd.LOAD_COMMIT, bad)
    dev.request(Cmd.LOAD_COMMIT, b"\x01a-in-ram\0")   # the upload stayed open
    assert (dev.info().model_name, dev.info().stored) == ("a-in-ram", stored_a)

    dev.reset()                                     # the stored model comes back
    info = dev.info()
    assert (info.model.crc, info.model_name, info.active_is_stored) == (stored_a.crc,
                                                                        "a.ebnn", True)
    dev.load(b, ram_only=True, name="b.ebnn")
    assert dev.save_model().crc == zlib.crc32(b)    # TRAIN_SAVE stores the active model
    assert (dev.info().stored, dev.info().active_is_stored) == (
        StoredModel(len(b), zlib.crc32(b), "b.ebnn"), True)
    dev.reset()
    assert dev.read_model() == b


def check_labels_outside_the_classes_are_refused(dev: Device, images: np.ndarray) -> None:
    """EVALUATE with a label that is not a class of the active (10-class) model is refused
    before any sample runs, the reply naming the sample and the label (issue 13)."""
    labels = np.arange(3, dtype="<u2")
    labels[1] = 10                                  # of 10 classes: 0..9
    with pytest.raises(CommandError, match=r"EVALUATE \(seq \d+\) failed: ERR_BAD_REQUEST "
                                           r"\(sample 1: label 10 is not a class of the "
                                           r"model, which has 10\)") as e:
        dev.request(Cmd.EVALUATE, struct.pack("<HH", 3, 0) + labels.tobytes()
                    + images[:3].tobytes())
    assert e.value.status == Status.ERR_BAD_REQUEST
    with pytest.raises(UsageError, match=r"EVALUATE needs labels \(N,\) in 0\.\.9"):
        dev.evaluate(images[:3], labels)             # the host refuses it before sending


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
