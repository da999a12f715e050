#!/usr/bin/env bash
# Checks the Linux plugin built here (target/debug by default, RV_PROFILE=release for the other):
# no dynamic libssl/libcrypto, every rv_ function of include/realtime_voice.h exported, and its
# glibc floor reported (the release workflow builds on an older base and enforces <= 2.31).
# Then the inspector's own tests (right and deliberately wrong binaries).
set -euo pipefail
cd "$(dirname "$0")/.."
lib="target/${RV_PROFILE:-debug}/librealtime_voice.so"
[ -f "$lib" ] || { echo "check-native: $lib missing (cargo build --lib)" >&2; exit 2; }
echo "check-native: ldd $lib"
ldd "$lib" | sed 's/^/  /'
if ldd "$lib" | grep -E 'lib(ssl|crypto)\.so'; then
  echo "check-native: $lib links OpenSSL dynamically" >&2
  exit 1
fi
python3 tools/inspect_native.py --platform linux "$lib"
python3 -m unittest -q tools/test_inspect_native.py
