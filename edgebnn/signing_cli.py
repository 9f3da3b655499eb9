"""`edgebnn keys generate|show` and `edgebnn sign`: the host side of signed models and
firmware images (edgebnn/signing.py; docs/boot.md "Signed images")."""
from __future__ import annotations

import argparse
from pathlib import Path

from edgebnn import flags, signing
from edgebnn.errors import UsageError, read_bytes, write_bytes


def cmd_keys_generate(args: argparse.Namespace) -> int:
    key, pub = signing.generate(args.key, force=args.force)
    print(f"wrote {key} (private, mode 0600) and {pub}; fingerprint "
          f"{signing.fingerprint(signing.read_public_key(pub)).hex()}")
    return 0


def cmd_keys_show(args: argparse.Namespace) -> int:
    raw = signing.read_public_key(args.key)
    print(f"{args.key}: Ed25519 public key {raw.hex()}, fingerprint "
          f"{signing.fingerprint(raw).hex()}")
    return 0


def sign_bytes(data: bytes, key: str, counter: int) -> bytes:
    """`data` with a trailer signed by the key in file `key` (what --sign and `sign` do)."""
    return signing.sign(data, signing.read_private_key(key), counter)


def cmd_sign(args: argparse.Namespace) -> int:
    """Signs a .ebnn model or a firmware image as it is, into a new file (never over the
    input): both are checked first, so only a file a board could accept gets signed."""
    data = read_bytes(args.file)
    _check_signable(signing.unsigned(data), args.file)
    out = args.output or f"{args.file}.signed"
    if Path(out).resolve() == Path(args.file).resolve():
        raise UsageError("-o is the input file; signing writes a new file", field="-o")
    signed = sign_bytes(data, args.key, args.counter)
    write_bytes(out, signed)
    print(f"wrote {out}: {len(signed):,} bytes, {signing.describe(signed)}")
    return 0


def _check_signable(data: bytes, name: str) -> None:
    """A firmware image (fwimage.parse) or a model (format.from_bytes), else their error."""
    from edgebnn import format as fmt
    from edgebnn.device import fwimage

    if data[:4] == fmt.MAGIC:
        fmt.from_bytes(data, name)
    else:
        fwimage.parse(data, name)


def check_pubkey(data: bytes, pubkey: str | None, source: str) -> None:
    """`--pubkey`: the file must be signed with that key (SignatureError otherwise)."""
    if pubkey:
        signing.verify(data, signing.read_public_key(pubkey), source)


def add_counter(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counter", type=flags.counter, default=0,
                   help="rollback counter (a board refuses a lower one than the running "
                        "image's or stored model's; default 0)")


def add_parsers(sub) -> None:
    k = sub.add_parser("keys", help="Ed25519 signing keys")
    ksub = k.add_subparsers(dest="keys_cmd", required=True)
    g = ksub.add_parser("generate", help="write KEY (private, 0600) and KEY.pub")
    g.add_argument("key")
    g.add_argument("--force", action="store_true", help="replace existing key files")
    g.set_defaults(func=cmd_keys_generate)
    s = ksub.add_parser("show", help="a key's public key and fingerprint")
    s.add_argument("key", help="KEY.pub (or the private key)")
    s.set_defaults(func=cmd_keys_show)
    sg = sub.add_parser("sign", help="sign a .ebnn model or a firmware image")
    sg.add_argument("file")
    sg.add_argument("--key", required=True, help="private key (`edgebnn keys generate`)")
    add_counter(sg)
    sg.add_argument("-o", "--output", help="signed file (default: FILE.signed)")
    sg.set_defaults(func=cmd_sign)
