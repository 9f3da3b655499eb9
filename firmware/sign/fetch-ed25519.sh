#!/usr/bin/env bash
# Fetches the Ed25519 verifier the firmware builds in when a key is provisioned (docs/boot.md
# "Signed images"): Orson Peters' portable ed25519 (RFC 8032, with its own SHA-512), as the
# `ed25519-orlp` source distribution on PyPI ships it in src/ed25519_orlp/csrc/. It is a
# dependency, not project code: the source is fetched unmodified at build time, checked
# against the pinned SHA-256 below, and never committed (it lands under firmware/build/).
#   Pin:     ed25519-orlp 0.1.3 sdist, ed25519_orlp-0.1.3.tar.gz (66,401 bytes)
#   SHA-256: 5dfa52e8f63687f028ed0e3f8e2b385bffd22a630c740be642d73a532d0137dd
#   Licence: zlib (ed25519: Copyright (c) 2015 Orson Peters; the package's LICENSE file,
#            copied next to the sources)
# Usage: fetch-ed25519.sh DIR [PYTHON]   -> DIR/*.c, DIR/*.h, DIR/LICENSE (needs network once)
set -euo pipefail
name=ed25519-orlp version=0.1.3
sha256=5dfa52e8f63687f028ed0e3f8e2b385bffd22a630c740be642d73a532d0137dd
dest=$1 py=${2:-python3}
[ -f "$dest/verify.c" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s==%s --hash=sha256:%s\n' "$name" "$version" "$sha256" >"$work/pin.txt"
# pip checks the hash itself (--require-hashes); the sdist's metadata step needs a setuptools
# with bdist_wheel (>= 70.1): the one installed, else pip's isolated build environment.
"$py" -m pip download -q --no-deps --no-binary :all: --no-build-isolation --require-hashes \
    -r "$work/pin.txt" -d "$work" 2>/dev/null ||
  "$py" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$work/pin.txt" -d "$work"
tarball=$work/ed25519_orlp-$version.tar.gz
echo "$sha256  $tarball" | sha256sum -c --quiet -
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest.tmp"
cp "$work/ed25519_orlp-$version"/src/ed25519_orlp/csrc/*.[ch] "$work/ed25519_orlp-$version/LICENSE" "$dest.tmp/"
echo "$name $version sha256:$sha256" >"$dest.tmp/PIN"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
echo "fetch-ed25519: $dest ($name $version, zlib licence)"
