#!/usr/bin/env bash
# Runs each cargo-fuzz target for a short while (default 20 s each), when this machine has
# a nightly toolchain and cargo-fuzz; otherwise says so and exits 0 (tests/fuzz_smoke.rs runs
# the same target bodies on stable as a bounded randomized test).
#   tools/fuzz-smoke.sh [SECONDS_PER_TARGET]
# The fuzz crate builds the library without its default `vendored-openssl` feature: the
# targets never dial, so they link the machine's OpenSSL (libssl-dev, from
# tools/install-deps.sh) instead of building OpenSSL from source again under nightly.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz-smoke: no nightly toolchain here; tests/fuzz_smoke.rs covers the targets on stable"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz-smoke: installing cargo-fuzz"
  cargo install cargo-fuzz --locked -q || { echo "fuzz-smoke: cargo-fuzz unavailable; tests/fuzz_smoke.rs covers the targets"; exit 0; }
fi
for target in config server_event audio_delta; do
  mkdir -p "fuzz/corpus/$target"
  cp -n fuzz/corpus_seed/"$target"/* "fuzz/corpus/$target/" 2>/dev/null || true
  echo "fuzz-smoke: $target for ${secs}s"
  (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" -- \
      -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 2>&1 | tail -n 3)
  # cargo fuzz exits non-zero on a crash (and `set -o pipefail` carries it).
done
echo "fuzz-smoke: 0 crashes"
