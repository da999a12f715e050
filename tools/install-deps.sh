#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine, and nothing twice:
#   - python: the official OpenAI SDK, pinned (tools/requirements.txt), for event conformance;
#   - the echo-cancellation benchmark: espeak-ng, sox, libspeexdsp1 (Debian) and its pinned
#     Python packages (tools/aec_bench/requirements.txt);
#   - Debian: Mono and NUnit (C# tests of the Unity scripts), valgrind (the C client under
#     valgrind), a C compiler, perl and make (OpenSSL is built from source and linked in on
#     Linux), OpenSSL headers (tools/test_inspect_native.py links a library against them to
#     check the inspector catches it).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v cc >/dev/null || missing+=(gcc)
command -v pkg-config >/dev/null || missing+=(pkg-config)
[ -f /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
command -v mcs >/dev/null || missing+=(mono-mcs)
command -v mono >/dev/null || missing+=(mono-runtime)
[ -d /usr/lib/mono/4.5 ] && [ -f /usr/lib/mono/4.5/System.Core.dll ] || missing+=(libmono-system-core4.0-cil)
command -v valgrind >/dev/null || missing+=(valgrind)
# The echo-cancellation benchmark (tools/aec_bench): voices, audio tools, the Speex anchor.
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v sox >/dev/null || missing+=(sox)
ls /usr/lib/*/libspeexdsp.so.1 >/dev/null 2>&1 || missing+=(libspeexdsp1)
command -v perl >/dev/null || missing+=(perl)
command -v make >/dev/null || missing+=(make)
command -v nunit-console >/dev/null || missing+=(nunit-console)
[ -f /usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll ] || missing+=(libnunit-cil-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "install-deps: please install: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

want=$(sed -n 's/^openai==//p' tools/requirements.txt)
have=$(python3 -c 'import openai; print(openai.__version__)' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "install-deps: pip install -r tools/requirements.txt (openai $want)"
  python3 -m pip install -q --disable-pip-version-check -r tools/requirements.txt
fi

# The echo-cancellation benchmark's Python side (pinned in tools/aec_bench/requirements.txt).
if ! python3 tools/aec_bench/check_requirements.py tools/aec_bench/requirements.txt; then
  echo "install-deps: pip install -r tools/aec_bench/requirements.txt"
  python3 -m pip install -q --disable-pip-version-check -r tools/aec_bench/requirements.txt
fi
