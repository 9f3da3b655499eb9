"""Ed25519 signatures of `.ebnn` models and firmware images (docs/format.md "Signature trailer",
docs/boot.md "Signed images").

A signed file is the file as it was, followed by a 160-byte **trailer**:

    0  u32 magic 0x47534245 ("EBSG")       12 u32 counter (rollback version, monotonic)
    4  u16 trailer version (1)             16 u8[16] key fingerprint: SHA-512(public key)[:16]
    6  u16 trailer size (160)              32 u8[64] SHA-512 of every byte before the trailer
    8  u32 covered length (bytes before)   96 u8[64] Ed25519 signature of trailer bytes 0..95

The signature covers the trailer's first 96 bytes, which hold the SHA-512 of everything before
the trailer: so every byte of the file but the signature itself is signed, and a device can
hash a file that is not contiguous in memory (a firmware header in RAM, its body in flash)
before it runs the one Ed25519 check. Readers that know no trailer read the file as before:
the C model loader and edgebnn.format ignore bytes past the header's file_size, and a
firmware header's body_size says where the body ends.

Keys are Ed25519 (RFC 8032) from the `cryptography` package: a private key file is PKCS#8 PEM,
a public key file SubjectPublicKeyInfo PEM. Ed25519 is deterministic, so the same file, counter
and key always give the same signature. Reading a trailer and a public key needs only the
standard library (the firmware build runs this file as a script to provision a key); signing
and checking a signature import `cryptography`.
"""
from __future__ import annotations

import base64
import hashlib
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

if not __package__:   # run as a script by the firmware Makefile: the package root is one up
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from edgebnn.errors import EdgebnnError, FileError, replacing, write_bytes  # noqa: E402

MAGIC = 0x47534245
TRAILER_VERSION = 1
TRAILER_SIZE = 160
SIGNED_SIZE = 96                     # trailer bytes the signature covers
FINGERPRINT_SIZE = 16
COUNTER_MAX = 0xFFFFFFFF
_FIELDS = struct.Struct("<IHHII16s64s")
assert _FIELDS.size == SIGNED_SIZE
#: DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the raw 32-byte key follows
_SPKI_PREFIX = bytes.fromhex("302a300506032b6570032100")


class SignatureError(EdgebnnError, ValueError):
    """A trailer, key or signature that does not check; the message names the file and why."""


@dataclass(frozen=True)
class Trailer:
    """The fields of a signature trailer (the signature is checked by verify())."""

    covered: int
    counter: int
    fingerprint: bytes
    digest: bytes
    signature: bytes

    @property
    def fingerprint_hex(self) -> str:
        return self.fingerprint.hex()


def fingerprint(public_key: bytes) -> bytes:
    """The 16-byte fingerprint of a raw 32-byte Ed25519 public key: what a trailer names and
    `keys show` prints (SHA-512, the hash every verifier of ours already carries)."""
    return hashlib.sha512(public_key).digest()[:FINGERPRINT_SIZE]


def _pem_body(text: str, label: str, source: str) -> bytes:
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    if begin not in text or end not in text:
        raise SignatureError(f"{source}: not a PEM {label.lower()} (no '{begin}' line)")
    try:
        return base64.b64decode(text.split(begin, 1)[1].split(end, 1)[0], validate=False)
    except ValueError:
        raise SignatureError(f"{source}: {label.lower()}: bad base64") from None


def read_public_key(path: str | Path) -> bytes:
    """The raw 32-byte key of a public key file (`keys generate` writes KEY.pub); a private key
    file is accepted too (its public half is used). Standard library only for .pub files."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError as e:
        raise FileError(f"cannot read ({e.strerror})", file=path) from None
    if "PRIVATE KEY" in text:
        return raw_public(read_private_key(path))
    der = _pem_body(text, "PUBLIC KEY", str(path))
    if len(der) != len(_SPKI_PREFIX) + 32 or not der.startswith(_SPKI_PREFIX):
        raise SignatureError(f"{path}: not an Ed25519 public key (expected the 44-byte "
                             f"SubjectPublicKeyInfo of RFC 8410, got {len(der)} bytes)")
    return der[len(_SPKI_PREFIX):]


def read_private_key(path: str | Path):
    """The Ed25519 private key (cryptography's Ed25519PrivateKey) of a PKCS#8 PEM file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FileError(f"cannot read ({e.strerror})", file=path) from None
    try:
        key = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise SignatureError(f"{path}: not an unencrypted PEM private key ({e})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: a {type(key).__name__}, expected an Ed25519 key")
    return key


def raw_public(private_key) -> bytes:
    """The raw 32 bytes of a private key's public half."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def generate(path: str | Path, force: bool = False) -> tuple[Path, Path]:
    """Writes a new Ed25519 private key (PKCS#8 PEM, mode 0600) to `path` and its public key to
    `path`.pub; refuses to replace either unless `force`. Returns both paths."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import (Encoding, NoEncryption,
                                                              PrivateFormat, PublicFormat)

    path = Path(path)
    pub = path.with_name(path.name + ".pub")
    for p in (path, pub):
        if p.exists() and not force:
            raise FileError("exists; pass --force to replace the key (files signed with it "
                            "then verify against the old public key only)", file=p)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with replacing(path) as f:   # 0600 before any key byte is written, and after the rename
        os.fchmod(f.fileno(), 0o600)
        f.write(pem)
    os.chmod(path, 0o600)
    write_bytes(pub, key.public_key().public_bytes(Encoding.PEM,
                                                   PublicFormat.SubjectPublicKeyInfo))
    return path, pub


def trailer_of(data: bytes) -> Optional[Trailer]:
    """The trailer at the end of `data`, or None when the file is unsigned (no trailer magic
    where a trailer would start, or a covered length that is not the bytes before it)."""
    if len(data) < TRAILER_SIZE:
        return None
    at = len(data) - TRAILER_SIZE
    magic, version, size, covered, counter, fp, digest = _FIELDS.unpack_from(data, at)
    if (magic, version, size, covered) != (MAGIC, TRAILER_VERSION, TRAILER_SIZE, at):
        return None
    return Trailer(covered, counter, fp, digest, data[at + SIGNED_SIZE:])


def unsigned(data: bytes) -> bytes:
    """The file without its trailer (the bytes the signature covers), or as it is."""
    t = trailer_of(data)
    return data if t is None else data[:t.covered]


def sign(data: bytes, private_key, counter: int) -> bytes:
    """`data` (an existing trailer removed first: re-signing replaces it) + a trailer signed by
    `private_key` with rollback `counter`."""
    if not 0 <= counter <= COUNTER_MAX:
        raise SignatureError(f"--counter is {counter}, expected 0..{COUNTER_MAX}")
    body = unsigned(data)
    fields = _FIELDS.pack(MAGIC, TRAILER_VERSION, TRAILER_SIZE, len(body), counter,
                          fingerprint(raw_public(private_key)), hashlib.sha512(body).digest())
    return body + fields + private_key.sign(fields)


def verify(data: bytes, public_key: bytes, source: str) -> Trailer:
    """Checks a signed file against a raw public key the way the device does (docs/boot.md
    "Signed images"), in its order: unsigned, another key, tampered or badly signed. Returns
    the trailer; SignatureError naming `source` and the reason otherwise."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    t = trailer_of(data)
    if t is None:
        raise SignatureError(f"{source}: unsigned (no signature trailer); sign it with "
                             "`edgebnn sign FILE --key KEY`")
    if t.fingerprint != fingerprint(public_key):
        raise SignatureError(f"{source}: signed by key {t.fingerprint_hex}, expected key "
                             f"{fingerprint(public_key).hex()}")
    at = t.covered
    try:
        if hashlib.sha512(data[:at]).digest() != t.digest:
            raise InvalidSignature
        Ed25519PublicKey.from_public_bytes(public_key).verify(t.signature,
                                                              data[at:at + SIGNED_SIZE])
    except InvalidSignature:
        raise SignatureError(f"{source}: bad signature (the file was changed after it was "
                             "signed, or the signature is corrupted)") from None
    return t


def describe(data: bytes) -> str:
    """One line for `edgebnn info FILE`: signed or not, by which key, at which counter."""
    t = trailer_of(data)
    if t is None:
        return "unsigned"
    return f"signed by key {t.fingerprint_hex}, counter {t.counter}"


def c_header(public_key: bytes, source: str) -> str:
    """The C header that provisions `public_key` into a firmware build (SIGN_PUBKEY)."""
    body = ", ".join(f"0x{b:02x}" for b in public_key)
    return (f"/* Generated by edgebnn/signing.py from {source}: the provisioned Ed25519 "
            f"public key,\n * fingerprint {fingerprint(public_key).hex()}. */\n"
            f"#define SIGN_PUBLIC_KEY {{{body}}}\n")


def main(argv: Optional[list[str]] = None) -> int:
    """The firmware Makefile's entry points: `key-header PUB -o FILE.h` (standard library only)
    and `sign FILE --key KEY --counter N -o OUT`."""
    import argparse

    p = argparse.ArgumentParser(prog="signing.py", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("key-header", help="the C header of a public key")
    h.add_argument("pubkey", type=Path)
    h.add_argument("-o", "--output", type=Path, required=True)
    s = sub.add_parser("sign", help="append a signature trailer")
    s.add_argument("file", type=Path)
    s.add_argument("--key", type=Path, required=True)
    s.add_argument("--counter", type=int, default=0)
    s.add_argument("-o", "--output", type=Path, required=True)
    args = p.parse_args(argv)
    try:
        if args.cmd == "key-header":
            write_bytes(args.output, c_header(read_public_key(args.pubkey),
                                              str(args.pubkey)).encode())
        else:
            write_bytes(args.output, sign(args.file.read_bytes(), read_private_key(args.key),
                                          args.counter))
    except (EdgebnnError, OSError) as e:
        print(f"signing.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
