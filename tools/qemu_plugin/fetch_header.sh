#!/usr/bin/env bash
# Fetches qemu-plugin.h for the installed QEMU from Debian's qemu source package (Debian ships
# QEMU with plugin support but without the header). Only the orig tarball is downloaded (about
# 80 MB, once) through apt with a private deb-src list, so the system's apt setup is untouched;
# the one header is extracted to tools/qemu_plugin/build/include/qemu-plugin.h. Works as root or
# as a user (apt's lists and cache go to tools/qemu_plugin/build/apt).
# Usage: tools/qemu_plugin/fetch_header.sh   (needs network; run once per QEMU version)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/build/include
work=$here/build/apt
mkdir -p "$out" "$work/lists/partial" "$work/archives/partial" "$work/cache" "$work/src"

pkgver=$(dpkg-query -W -f='${Version}' qemu-user 2>/dev/null || true)
if [ -z "$pkgver" ]; then
  echo "fetch_header: qemu-user is not installed (dpkg-query found no version)" >&2
  exit 2
fi
srcver=${pkgver%+b[0-9]*} # a binNMU suffix (+bN) is not part of the source version
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
cat >"$work/sources.list" <<LIST
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
LIST
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-" -o "Dir::Cache=$work/cache"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
  -o "APT::Sandbox::User=root" -o "Acquire::http::Timeout=30" -o "Acquire::Retries=2")
echo "fetch_header: apt-get update (deb-src for $codename)"
apt-get "${apt_opts[@]}" update -qq
cd "$work/src"
echo "fetch_header: downloading qemu source $srcver"
apt-get "${apt_opts[@]}" source --download-only -qq "qemu=$srcver"
orig=$(ls qemu_*.orig.tar.* | head -n1)
tar -xf "$orig" --wildcards --no-anchored --strip-components=3 -C "$out" '*/include/qemu/qemu-plugin.h'
rm -f qemu_*  # the sources are not needed once the header is out
echo "fetch_header: $out/qemu-plugin.h (QEMU $srcver)"
echo "$srcver" >"$out/QEMU_VERSION"
