#!/usr/bin/env bash
# Every test of the project, the README's test command:
#   Rust unit + integration tests (the C ABI against the local Realtime server, the C client
#   under valgrind, conformance with the official SDK, fuzz targets as bounded randomized tests),
#   then the Unity scripts' C# tests under Mono against the real native library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
# The C client links the cdylib and the talk test runs the example binary: build them first
# (`cargo test` alone builds neither where the tests look for them).
cargo build --workspace --lib --bins --examples
cargo test --workspace --all-targets --no-fail-fast
# The Linux plugin as built: no dynamic OpenSSL, every rv_ function exported, its glibc floor.
bash tools/check-native.sh
if [ -f unity-package/Tests/run-mono-tests.sh ]; then
  bash unity-package/Tests/run-mono-tests.sh
fi
# The echo-cancellation benchmark in its smoke form: short scenes, our canceller (the dev
# build made above) against WebRTC AEC3 and SpeexDSP, a few bounds asserted.
python3 tools/aec_bench/run.py --smoke
