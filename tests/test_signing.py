"""Signed, rollback-protected firmware images and models (docs/boot.md "Signed images",
docs/format.md "Signature trailer"): the trailer and its signature are those of the
`cryptography` package itself, byte for byte; the host refuses what the device refuses; and a
board provisioned with key A, under QEMU, accepts A's images and models and refuses unsigned,
tampered, key-B and downgraded ones, each with its own error, keeping its application and its
model, also after a reset.

The QEMU part needs make, arm-none-eabi-gcc and qemu-system-arm (skipped otherwise), and the
pinned verifier source (firmware/sign/fetch-ed25519.sh: fetched once from PyPI)."""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import struct
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgebnn import cli, signing
from edgebnn import format as fmt
from edgebnn.device import fwimage
from edgebnn.device.errors import CommandError
from edgebnn.device.flash import boot, boot_info, enter_bootloader, flash, upload
from edgebnn.device.framing import Status
from edgebnn.device.ports import ensure_firmware, open_device
from edgebnn.export import export_model
from edgebnn.native import NativeModel
from tests.conftest import random_images, random_model

SHAPE = (8, 8, 1)
FW_COUNTER = 5            # the counter the signed build's own image carries
TIMEOUT = 10.0            # seconds per reply: the shared test machines can be slow


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """Two key pairs, A (provisioned) and B (another party's)."""
    out = tmp_path_factory.mktemp("keys")
    return {name: signing.generate(out / f"{name}.key")[0] for name in "ab"}


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {seed: fmt.to_bytes(export_model(random_model("mlp", SHAPE, 10, seed=seed,
                                                         layers=[32]), SHAPE, 10))
            for seed in (41, 42)}


def sign(data: bytes, key: Path, counter: int) -> bytes:
    return signing.sign(data, signing.read_private_key(key), counter)


def flip(data: bytes, at: int) -> bytes:
    out = bytearray(data)
    out[at] ^= 0x01
    return bytes(out)


# --- host: the format, reproducibility, keys ------------------------------------------------
def test_the_trailer_is_the_cryptography_packages_signature(keys, models):
    """Ed25519 is deterministic: the same bytes, key and counter give the same trailer every
    time, and its signature is what the `cryptography` package makes of the trailer's first
    96 bytes directly (docs/format.md "Signature trailer")."""
    data = models[41]
    key = signing.read_private_key(keys["a"])
    signed = signing.sign(data, key, 7)
    assert signed == signing.sign(data, key, 7) and signed[:len(data)] == data
    raw = signing.raw_public(key)
    fields = struct.pack("<IHHII", 0x47534245, 1, 160, len(data), 7) + \
        hashlib.sha512(raw).digest()[:16] + hashlib.sha512(data).digest()
    direct = Ed25519PrivateKey.from_private_bytes(
        key.private_bytes_raw()).sign(fields)
    assert signed[len(data):] == fields + direct
    assert len(signed) % 16 == 0   # a signed .ebnn keeps the 16-byte size rule
    # unsigned readers read it as before, and re-signing replaces the trailer
    assert fmt.from_bytes(signed).layers == fmt.from_bytes(data).layers
    assert NativeModel(signed).infer(random_images(SHAPE, 3, 1)).tolist() == \
        NativeModel(data).infer(random_images(SHAPE, 3, 1)).tolist()
    assert signing.sign(signed, key, 8) == signing.sign(data, key, 8)
    t = signing.verify(signed, raw, "m.ebnn")
    assert (t.counter, t.covered) == (7, len(data))


def test_the_host_refuses_what_the_board_refuses(keys, models):
    data, raw_a = models[41], signing.read_public_key(Path(f"{keys['a']}.pub"))
    signed = sign(data, keys["a"], 1)
    cases = [(data, "unsigned"), (sign(data, keys["b"], 1), "signed by key [0-9a-f]{32}, "
                                                            "expected key"),
             (flip(signed, 100), "bad signature"), (flip(signed, len(data) + 12), "bad signature"),
             (flip(signed, len(signed) - 1), "bad signature")]
    for bad, message in cases:
        with pytest.raises(signing.SignatureError, match=f"m.ebnn: {message}"):
            signing.verify(bad, raw_a, "m.ebnn")
    # one bit flipped anywhere: every byte of the trailer, every 7th of the model
    for at in [*range(0, len(data), 7), *range(len(data), len(signed))]:
        with pytest.raises(signing.SignatureError):
            signing.verify(flip(signed, at), raw_a, "m.ebnn")


def test_keys_generate_show_and_refuse_to_overwrite(tmp_path, capsys):
    key = tmp_path / "k.key"
    assert cli.main(["keys", "generate", str(key)]) == 0
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    pub = signing.read_public_key(Path(f"{key}.pub"))
    assert signing.read_public_key(key) == pub
    before = key.read_bytes()
    assert cli.main(["keys", "generate", str(key)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and key.read_bytes() == before
    assert cli.main(["keys", "generate", str(key), "--force"]) == 0
    assert key.read_bytes() != before and stat.S_IMODE(os.stat(key).st_mode) == 0o600
    capsys.readouterr()
    assert cli.main(["keys", "show", f"{key}.pub"]) == 0
    out = capsys.readouterr().out
    assert signing.fingerprint(signing.read_public_key(key)).hex() in out
    (tmp_path / "junk.pub").write_text("hello")
    assert cli.main(["keys", "show", str(tmp_path / "junk.pub")]) == 2
    assert "not a PEM public key" in capsys.readouterr().err


def test_sign_info_and_eval_pubkey(keys, models, tmp_path, capsys):
    model = tmp_path / "m.ebnn"
    model.write_bytes(models[41])
    out = tmp_path / "m.signed.ebnn"
    assert cli.main(["sign", str(model), "--key", str(keys["a"]), "--counter", "3",
                     "-o", str(out)]) == 0
    assert model.read_bytes() == models[41]   # the input is never overwritten
    capsys.readouterr()
    assert cli.main(["info", str(out)]) == 0
    fp = signing.fingerprint(signing.read_public_key(keys["a"])).hex()
    assert f"signed by key {fp}, counter 3" in capsys.readouterr().out
    assert cli.main(["info", str(model)]) == 0 and "unsigned" in capsys.readouterr().out
    # eval --pubkey: the model is checked before it is used
    meta = fmt.from_bytes(models[41]).meta
    assert "training" not in meta   # a random model: eval's data split cannot be rebuilt
    assert cli.main(["eval", str(model), "--pubkey", f"{keys['a']}.pub"]) == 2
    assert "m.ebnn: unsigned" in capsys.readouterr().err
    assert cli.main(["eval", str(out), "--pubkey", f"{keys['b']}.pub"]) == 2
    assert "signed by key" in capsys.readouterr().err
    assert cli.main(["device", "load", str(out), "--port", "qemu:mps2-an386", "--pubkey",
                     f"{keys['b']}.pub"]) == 2   # refused on the host, no board started
    assert "m.signed.ebnn: signed by key" in capsys.readouterr().err
    # a firmware image is signed the same way, and `fwimage.parse` still reads it
    image = fwimage.sign(bytes(range(16)), board="mps2-an386", version="0.1.0",
                         slot=0x21000000)
    (tmp_path / "fw.img").write_bytes(image)
    assert cli.main(["sign", str(tmp_path / "fw.img"), "--key", str(keys["a"]), "-o",
                     str(tmp_path / "fw.signed.img")]) == 0
    assert fwimage.parse((tmp_path / "fw.signed.img").read_bytes()).body_size == 16
    assert cli.main(["flash", str(tmp_path / "fw.img"), "--port", "qemu:mps2-an386",
                     "--pubkey", f"{keys['a']}.pub"]) == 2   # refused before any port opens
    assert "fw.img: unsigned" in capsys.readouterr().err
    assert cli.main(["sign", str(tmp_path / "junk"), "--key", str(keys["a"]), "-o",
                     str(tmp_path / "x")]) == 2
    assert "cannot read" in capsys.readouterr().err


# --- the device, under QEMU -----------------------------------------------------------------
MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
           if shutil.which(t) is None]
needs_qemu = pytest.mark.skipif(bool(MISSING), reason=f"not installed: {', '.join(MISSING)}")
#: the default suite runs the first board; the newer one (Cortex-M33, Secure) is `-m slow`
ON_BOARDS = pytest.mark.parametrize("board", [
    "mps2-an386", pytest.param("mps2-an505", marks=pytest.mark.slow)])


@pytest.fixture(scope="module")
def signed_build(keys, tmp_path_factory) -> Path:
    """A build folder whose firmware has key A provisioned and its image signed at FW_COUNTER
    (its config.mk; each board is built on first use)."""
    out = tmp_path_factory.mktemp("fw-signed")
    (out / "config.mk").write_text(f"SIGN_KEY := {keys['a']}\nFW_COUNTER := {FW_COUNTER}\n")
    return out


def tampered(image: bytes, board: str, body_byte: int | None = None,
             version: str = "0.1.0") -> bytes:
    """A signed image changed the way an attacker would: one body byte flipped, or another
    version in the header, with the header's CRCs made right again and the trailer kept (a
    change the CRCs do not catch, only the signature)."""
    plain = signing.unsigned(image)
    header = fwimage.parse(plain)
    body = plain[fwimage.HEADER_SIZE:]
    if body_byte is not None:
        body = flip(body, body_byte)
    return fwimage.sign(body, board=board, version=version,
                        slot=header.load_address - fwimage.HEADER_SIZE) + image[len(plain):]


def refusal(status: Status, detail: str):
    return pytest.raises(CommandError, match=rf"{status.name} \(refused: {detail}")


@needs_qemu
@ON_BOARDS
def test_a_provisioned_board_accepts_only_its_keys_newer_images(signed_build, keys, board,
                                                               tmp_path):
    port = f"qemu:{board}?store={tmp_path / 'board.store'}"
    image = (ensure_firmware(board, signed_build).parent / "edgebnn-fw.img").read_bytes()
    plain = signing.unsigned(image)
    newer = sign(plain, keys["a"], FW_COUNTER + 1)
    fp_b = signing.fingerprint(signing.read_public_key(keys["b"])).hex()
    cases = [(plain, refusal(Status.ERR_UNSIGNED, "unsigned")),
             (tampered(image, board, body_byte=200), refusal(Status.ERR_SIGNATURE,
                                                             "bad signature")),
             (tampered(image, board, version="0.1.1"), refusal(Status.ERR_SIGNATURE,
                                                               "bad signature")),
             (sign(plain, keys["b"], FW_COUNTER + 1), refusal(Status.ERR_KEY,
                                                              f"signed by key {fp_b}")),
             (sign(plain, keys["a"], FW_COUNTER - 1),
              refusal(Status.ERR_DOWNGRADE, f"downgrade, counter {FW_COUNTER - 1} is below "
                                            f"the running {FW_COUNTER}"))]
    ours = signing.fingerprint(signing.read_public_key(f"{keys['a']}.pub")).hex()
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:
        enter_bootloader(dev)
        assert boot_info(dev).key_fingerprint == ours      # the bootloader's INFO names it
        for bad, refused in cases:
            with refused:
                upload(dev, bad)
        assert boot(dev) == "0.1.0"   # the application that ran before runs
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:
        assert flash(dev, newer).version == "0.1.0"   # confirmed: the floor is now 6
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:   # QEMU restarted, same flash
        enter_bootloader(dev)
        with refusal(Status.ERR_DOWNGRADE, f"downgrade, counter {FW_COUNTER} is below the "
                                           f"running {FW_COUNTER + 1}"):
            upload(dev, image)
        assert boot(dev) == "0.1.0"
        assert dev.info().firmware == "0.1.0"


@needs_qemu
@ON_BOARDS
def test_a_provisioned_board_serves_only_its_keys_newer_models(signed_build, keys, models,
                                                              board, tmp_path, monkeypatch,
                                                              capsys):
    port = f"qemu:{board}?store={tmp_path / 'board.store'}"
    ours = signing.fingerprint(signing.read_public_key(f"{keys['a']}.pub")).hex()
    monkeypatch.setenv("EDGEBNN_FIRMWARE_BUILD", str(signed_build))
    assert cli.main(["device", "info", "--port", port]) == 0      # INFO names the key
    assert f"signing key: provisioned, fingerprint {ours}" in capsys.readouterr().out
    images = random_images(SHAPE, 4, seed=5)
    first, other = sign(models[41], keys["a"], 3), models[42]
    expected = NativeModel(models[41]).infer(images)
    cases = [(other, refusal(Status.ERR_UNSIGNED, "unsigned")),
             (flip(sign(other, keys["a"], 4), 300), refusal(Status.ERR_SIGNATURE,
                                                            "bad signature")),
             (sign(other, keys["b"], 4), refusal(Status.ERR_KEY, "signed by key")),
             (sign(other, keys["a"], 2), refusal(Status.ERR_DOWNGRADE,
                                                 "downgrade, counter 2 is below the "
                                                 "running 3"))]
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:
        dev.load(first)
        for bad, refused in cases:
            for ram_only in (False, True):
                with refused:
                    dev.load(bad, ram_only=ram_only)
                np.testing.assert_array_equal(dev.infer(images).scores, expected)
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:   # after a reset: still refused
        np.testing.assert_array_equal(dev.infer(images).scores, expected)
        with refusal(Status.ERR_DOWNGRADE, "downgrade, counter 2 is below the running 3"):
            dev.load(sign(other, keys["a"], 2))
        dev.load(sign(other, keys["a"], 3))   # the same counter is no downgrade
        np.testing.assert_array_equal(dev.infer(images).scores,
                                      NativeModel(other).infer(images))


@needs_qemu
def test_a_failed_trial_does_not_advance_the_counter(signed_build, keys, tmp_path):
    """A signed image with a higher counter that hangs at reset is reverted by its trial boot
    (docs/boot.md "Trial boot"), and the floor stays the confirmed application's: the board
    can still go to any version from there up."""
    from edgebnn.device.errors import DeviceError
    from tests.test_trial_boot import bad_image

    board = "mps2-an386"
    port = f"qemu:{board}?store={tmp_path / 'board.store'}"
    image = (ensure_firmware(board, signed_build).parent / "edgebnn-fw.img").read_bytes()
    with open_device(port, timeout=TIMEOUT, build_dir=signed_build) as dev:
        enter_bootloader(dev)
        upload(dev, sign(bad_image(board, "hang"), keys["a"], FW_COUNTER + 10))
        with pytest.raises(DeviceError, match="never answered .* restored 0.1.0"):
            boot(dev, timeout=4 * TIMEOUT)   # two watchdog periods (2 s each) and a boot
        assert flash(dev, sign(signing.unsigned(image), keys["a"], FW_COUNTER + 1)).version \
            == "0.1.0"


BUILD_MISSING = [t for t in ("make", "arm-none-eabi-gcc", "arm-none-eabi-nm")
                 if shutil.which(t) is None]


@pytest.mark.skipif(bool(BUILD_MISSING), reason=f"not installed: {', '.join(BUILD_MISSING)}")
def test_the_pico_builds_a_key_provisioned_bootloader(signed_build, keys):
    """pico (RP2040, built, not run): the bootloader with the verifier fits its region — 64 KiB
    there (ld/pico.ld), where 32 KiB stopped the link with `flash budget exceeded` — and the
    application image is signed by the provisioned key, so the link itself is the size check."""
    import subprocess

    elf = ensure_firmware("pico", signed_build)
    boot_elf = elf.parent / "edgebnn-boot.elf"
    symbols = subprocess.run(["arm-none-eabi-nm", str(boot_elf)], capture_output=True,
                             text=True, check=True).stdout
    assert " sig_verify" in symbols and " ed25519_verify" in symbols
    ends = [int(line.split()[0], 16) for line in symbols.splitlines()
            if line.endswith(" __boot_size")]
    assert ends == [64 * 1024]
    image = (elf.parent / "edgebnn-fw.img").read_bytes()
    signing.verify(image, signing.read_public_key(f"{keys['a']}.pub"), "pico image")
