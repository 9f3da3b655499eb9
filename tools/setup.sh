#!/usr/bin/env bash
# Installs everything edgebnn needs on a fresh Debian/Ubuntu machine. Safe to re-run:
# apt and pip steps are skipped when their packages are already present.
#   EDGEBNN_VENV   where the virtualenv goes (default: .venv in the repo)
#   EDGEBNN_NO_APT set to 1 to skip the apt step (e.g. no root, toolchains already there)
#   EDGEBNN_QEMU_PLUGIN set to 1 to also fetch qemu-plugin.h for the ARM instruction-count
#                  benchmark (tools/qemu_plugin/fetch_header.sh: Debian's qemu source, 23 MB)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
venv=${EDGEBNN_VENV:-$repo/.venv}

apt_pkgs=(build-essential python3-dev python3-venv
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross)

if [ "${EDGEBNN_NO_APT:-0}" != 1 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    echo "[setup] apt: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtualenv $venv"
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
stamp="$venv/.edgebnn-deps"
reqs="$repo/tools/requirements.txt"
if [ ! -f "$stamp" ] || ! cmp -s "$reqs" "$stamp"; then
  echo "[setup] pip: installing $(grep -cv '^#' "$reqs") packages (torch is the CPU build)"
  "$py" -m pip install -q --upgrade pip setuptools wheel
  "$py" -m pip install -q -r "$reqs"
  cp "$reqs" "$stamp"
fi
# The package itself, with its cffi extension built from native/. Re-run on every call: it
# is quick, and keeps the extension in step with the C sources.
"$py" -m pip install -q --no-build-isolation -e "$repo"
if [ "${EDGEBNN_QEMU_PLUGIN:-0}" = 1 ] && [ ! -f "$repo/tools/qemu_plugin/build/include/qemu-plugin.h" ]; then
  # Best effort: without the header only the AArch64/ARMv7 instruction counts are unavailable
  # (their tests skip and say why).
  "$repo/tools/qemu_plugin/fetch_header.sh" ||
    echo "[setup] qemu-plugin.h not fetched: the aarch64/armv7 instruction-count benchmark and its tests are unavailable" >&2
fi
# The pinned Ed25519 verifier for key-provisioned firmware builds (docs/boot.md "Signed images"),
# fetched once from PyPI; best effort: `make SIGN_KEY=...` fetches it too, unsigned builds never.
"$repo/firmware/sign/fetch-ed25519.sh" "$repo/firmware/build/third_party/ed25519-orlp-0.1.3" "$py" ||
  echo "[setup] ed25519-orlp not fetched: signed firmware builds will fetch it (needs network)" >&2
echo "[setup] ready: $venv/bin/edgebnn"
