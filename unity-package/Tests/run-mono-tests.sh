#!/usr/bin/env bash
# Builds the native library, compiles the UnityEngine stubs + Runtime + sample + tests with mcs,
# starts the local Realtime server, runs the C# tests under Mono and stops the server.
# Also compiles the Runtime for the other Unity configurations (player, iOS, Android) and runs
# the .unitypackage / .meta checks.
#
#   unity-package/Tests/run-mono-tests.sh [nunit-console -run filter, e.g. RealtimeVoice.Tests.JsonTests]
#
# Env: RV_PROFILE=release to use target/release; RV_SKIP_CARGO=1 to use an existing build;
#      RV_NO_SERVER=1 to run without the server (live tests are then skipped).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PKG="$(dirname "$HERE")"
ROOT="$(dirname "$PKG")"
OUT="${RV_TEST_OUT:-$ROOT/target/mono-tests}"
PROFILE="${RV_PROFILE:-debug}"
FILTER="${1:-}"
mkdir -p "$OUT"

for tool in mcs mono nunit-console cargo python3; do
  command -v "$tool" >/dev/null || { echo "run-mono-tests: '$tool' not found" >&2; exit 2; }
done

# 1. Native library (and the server binary).
if [[ "${RV_SKIP_CARGO:-0}" != "1" ]]; then
  cargo_flags=()
  [[ "$PROFILE" == "release" ]] && cargo_flags+=(--release)
  (cd "$ROOT" && cargo build -q -p realtime_voice ${cargo_flags[@]+"${cargo_flags[@]}"})
  if [[ "${RV_NO_SERVER:-0}" != "1" ]]; then
    (cd "$ROOT" && cargo build -q -p rv-mock-server ${cargo_flags[@]+"${cargo_flags[@]}"})
  fi
fi
LIBDIR="$ROOT/target/$PROFILE"
[[ -f "$LIBDIR/librealtime_voice.so" ]] || { echo "run-mono-tests: $LIBDIR/librealtime_voice.so missing" >&2; exit 2; }

# 2. Compile. Warnings are errors for our code (CS1591 = missing XML doc is not enforced).
MCS=(mcs -nologo -langversion:7.2 -debug -warnaserror+ -nowarn:1591)
"${MCS[@]}" -target:library -define:RV_MONO_TESTS -out:"$OUT/UnityEngine.dll" "$HERE/Stubs/UnityEngine.cs"
"${MCS[@]}" -target:library -define:RV_MONO_TESTS -r:"$OUT/UnityEngine.dll" -out:"$OUT/UnityEditor.dll" "$HERE/Stubs/UnityEditor.cs"
RUNTIME_SRC=$(find "$PKG/Runtime" -name '*.cs' | sort)
# The Runtime must also compile in the other Unity configurations (player, iOS __Internal, Android).
# The Input System push-to-talk path compiles against the stub's InputActionReference.
for defs in "UNITY_2019_4_OR_NEWER" "UNITY_2019_4_OR_NEWER;UNITY_IOS" "UNITY_2019_4_OR_NEWER;UNITY_ANDROID" \
            "UNITY_2019_4_OR_NEWER;UNITY_2020_2_OR_NEWER;UNITY_ANDROID" "UNITY_2019_4_OR_NEWER;ENABLE_INPUT_SYSTEM;RV_INPUT_SYSTEM"; do
  # shellcheck disable=SC2086
  "${MCS[@]}" -target:library -define:"$defs" -r:"$OUT/UnityEngine.dll" -out:"$OUT/check.dll" $RUNTIME_SRC
done
# The editor configuration is the one the tests run (domain-reload path included).
# shellcheck disable=SC2086
# (with the Input System define: the push-to-talk action is tested through the stub).
"${MCS[@]}" -target:library -define:"UNITY_2019_4_OR_NEWER;UNITY_EDITOR;ENABLE_INPUT_SYSTEM;RV_INPUT_SYSTEM" -r:"$OUT/UnityEngine.dll" -r:"$OUT/UnityEditor.dll" \
  -out:"$OUT/RealtimeVoice.Runtime.dll" $RUNTIME_SRC
# shellcheck disable=SC2086
# The editor assembly the tests load is the iOS one (the Xcode post-process is tested too).
"${MCS[@]}" -target:library -define:"UNITY_2019_4_OR_NEWER;UNITY_EDITOR;UNITY_IOS;UNITY_2019_3_OR_NEWER" -r:"$OUT/UnityEngine.dll" -r:"$OUT/UnityEditor.dll" \
  -r:"$OUT/RealtimeVoice.Runtime.dll" -out:"$OUT/RealtimeVoice.Editor.dll" $(find "$PKG/Editor" -name '*.cs' | sort)
# The editor scripts in the iOS and Android editor configurations (the Xcode post-process and
# the build checks compile against the stub's PBXProject and PlayerSettings).
for defs in "UNITY_2019_4_OR_NEWER;UNITY_EDITOR" "UNITY_2019_4_OR_NEWER;UNITY_EDITOR;UNITY_IOS" "UNITY_2019_4_OR_NEWER;UNITY_EDITOR;UNITY_ANDROID"; do
  # shellcheck disable=SC2086
  "${MCS[@]}" -target:library -define:"$defs" -r:"$OUT/UnityEngine.dll" -r:"$OUT/UnityEditor.dll" \
    -r:"$OUT/RealtimeVoice.Runtime.dll" -out:"$OUT/check-editor.dll" $(find "$PKG/Editor" -name '*.cs' | sort)
done
# The pure C# part (no UnityEngine) must compile on its own: outside tools drive sessions with it.
PURE_SRC=$(find "$PKG/Runtime" -name '*.cs' ! -name 'RealtimeVoice.cs' ! -path '*/Component/*' | sort)
# shellcheck disable=SC2086
"${MCS[@]}" -target:library -out:"$OUT/RealtimeVoice.Core.dll" $PURE_SRC
# shellcheck disable=SC2086
"${MCS[@]}" -target:library -define:"UNITY_2019_4_OR_NEWER" -r:"$OUT/UnityEngine.dll" -r:"$OUT/RealtimeVoice.Runtime.dll" \
  -out:"$OUT/RealtimeVoice.Samples.dll" $(find "$PKG/Samples~" -name '*.cs' | sort)
# shellcheck disable=SC2086
NUNIT_FRAMEWORK=/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll
[[ -f "$NUNIT_FRAMEWORK" ]] || { echo "run-mono-tests: $NUNIT_FRAMEWORK missing (tools/install-deps.sh)" >&2; exit 2; }
cp "$NUNIT_FRAMEWORK" "$OUT/"
# shellcheck disable=SC2086
"${MCS[@]}" -target:library -define:RV_MONO_TESTS -r:"$OUT/UnityEngine.dll" -r:"$OUT/UnityEditor.dll" \
  -r:"$OUT/RealtimeVoice.Runtime.dll" -r:"$OUT/RealtimeVoice.Samples.dll" -r:"$OUT/RealtimeVoice.Editor.dll" \
  -r:"$OUT/nunit.framework.dll" -out:"$OUT/RealtimeVoice.Tests.dll" $(find "$HERE/Core" "$HERE/Mono" -name '*.cs' | sort)
# Tests/Core is also a Unity test assembly (UNITY_INCLUDE_TESTS): it must compile without the
# Mono-only fixtures and the stub's test hooks.
mkdir -p "$OUT/unity-tests"
# shellcheck disable=SC2086
"${MCS[@]}" -target:library -define:UNITY_INCLUDE_TESTS -r:"$OUT/UnityEngine.dll" -r:"$OUT/RealtimeVoice.Runtime.dll" \
  -r:"$OUT/nunit.framework.dll" -out:"$OUT/unity-tests/RealtimeVoice.Tests.dll" $(find "$HERE/Core" -name '*.cs' | sort)

# 3. Package checks (metas, GUIDs, builder output).
python3 "$ROOT/tools/check_unity_package.py" "$PKG"
python3 -m unittest -q "$ROOT/tools/test_build_unitypackage.py" 2>&1 | tail -n 3

# 4. The local Realtime servers on free ports: ws:// with the first response a scripted
#    move_cube call, and wss:// (the committed test certificate) for the TLS path.
SERVER_PIDS=()
cleanup() {
  local pid
  for pid in ${SERVER_PIDS[@]+"${SERVER_PIDS[@]}"}; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

# start_server NAME BIN ARGS...: starts it, waits for "listening <url>", sets SERVER_URL.
start_server() {
  local name="$1" bin="$2"
  shift 2
  # Remove the previous run's output first: the child truncates it only once it runs, and
  # reading the old "listening" line would point the tests at a dead port.
  rm -f "$OUT/$name.out" "$OUT/$name.log"
  "$bin" "$@" >"$OUT/$name.out" 2>"$OUT/$name.log" &
  local pid=$!
  SERVER_PIDS+=("$pid")
  local line=""
  for _ in $(seq 1 200); do
    line="$(head -n 1 "$OUT/$name.out" 2>/dev/null || true)"
    [[ "$line" == listening* ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  [[ "$line" == "listening ws://"* || "$line" == "listening wss://"* ]] || {
    echo "run-mono-tests: $name did not start: '$line' (see $OUT/$name.log)" >&2; exit 2; }
  SERVER_URL="${line#listening }"
}

export RV_REPO_ROOT="$ROOT" RV_TEST_SERVER_URL="" RV_TEST_TOOL_SERVER_URL="" RV_TEST_TLS_URL="" RV_TEST_CA_PEM="" RV_TEST_KEYED_URL="" RV_TEST_SCRIPTED_TOOL=0 \
  RV_TEST_ASYNC_TOOL_SERVER_URL="" RV_TEST_EXPIRING_SERVER_URL=""
if [[ "${RV_NO_SERVER:-0}" != "1" ]]; then
  SERVER_BIN="$ROOT/target/$PROFILE/rv-mock-server"
  [[ -x "$SERVER_BIN" ]] || { echo "run-mono-tests: $SERVER_BIN missing" >&2; exit 2; }
  # Scripted: the first response is the model calling move_cube({"dx":1,"dy":0,"dz":0}), and the
  # first user turn is transcribed as below (later responses are the default spoken answer).
  # That one serves ConversationEndToEnd alone (NUnit does not order tests); the other tests
  # share a server whose responses are spoken answers.
  start_server tool-server "$SERVER_BIN" --port 0 --no-stdin \
    --tool-call move_cube '{"dx":1,"dy":0,"dz":0}' --user-transcript "Move the cube one meter to the right."
  RV_TEST_SCRIPTED_TOOL=1
  RV_TEST_TOOL_SERVER_URL="$SERVER_URL"
  # Its first response calls two tools at once: slow_lookup (answered by an asynchronous handler
  # after the other) and move_cube; later responses are the default spoken answer.
  start_server async-tool-server "$SERVER_BIN" --port 0 --no-stdin \
    --tool-call slow_lookup '{"q":"cube"}' --and-tool-call move_cube '{"dx":1,"dy":0,"dz":0}'
  RV_TEST_ASYNC_TOOL_SERVER_URL="$SERVER_URL"
  start_server server "$SERVER_BIN" --port 0 --no-stdin --user-transcript "Move the cube one meter to the right."
  RV_TEST_SERVER_URL="$SERVER_URL"
  start_server tls-server "$SERVER_BIN" --port 0 --no-stdin --tls
  RV_TEST_TLS_URL="$SERVER_URL"
  RV_TEST_CA_PEM="$ROOT/crates/mock-server/certs/ca.pem"
  # Every session expires 3 s after it began (session_expired): the plugin reconnects to a new
  # server session (ids as the real API gives them) and re-creates the conversation on it.
  start_server expiring-server "$SERVER_BIN" --port 0 --no-stdin --max-session-secs 3 --identity-fields
  RV_TEST_EXPIRING_SERVER_URL="$SERVER_URL"
  # A server that accepts one credential only: the ephemeral-token flow end to end.
  start_server keyed-server "$SERVER_BIN" --port 0 --no-stdin --key ek_mono_test_token
  RV_TEST_KEYED_URL="$SERVER_URL"
  export RV_REQUIRE_SERVER=1
  echo "servers: $RV_TEST_SERVER_URL (scripted tool call: $RV_TEST_SCRIPTED_TOOL), $RV_TEST_TLS_URL"
fi

# 5. Run. The tests never need a real key: keep the developer's out of the local server's logs.
unset OPENAI_API_KEY
# DllImport("realtime_voice") resolves to librealtime_voice.so through LD_LIBRARY_PATH.
export LD_LIBRARY_PATH="$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
cd "$OUT"
set +e
# -nothread/-domain=None: the tests run in this process, where LD_LIBRARY_PATH finds the library.
MONO_ENV_OPTIONS="--debug" nunit-console -nologo -nothread -noshadow -domain=None -labels \
  -xml="$OUT/TestResult.xml" ${FILTER:+-run="$FILTER"} "$OUT/RealtimeVoice.Tests.dll"
status=$?
# nunit-console reports ignored tests without failing: count them as failures where a server
# was promised (the live tests ignore themselves without one).
python3 - "$OUT/TestResult.xml" <<'PY' || status=1
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
cases = root.iter("test-case")
counts = {}
for c in cases:
    key = c.get("result") or ("Executed" if c.get("executed") == "True" else "NotRun")
    counts[key] = counts.get(key, 0) + 1
print("nunit: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
sys.exit(1 if root.get("failures") != "0" or root.get("errors") != "0" or sum(counts.values()) == 0 else 0)
PY
set -e
exit $status
