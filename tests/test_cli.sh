#!/usr/bin/env bash
#  test_cli.sh - the zhive command line tool on an embedded pool (--local)
#
#  Needs ZHIVE_BIN (folder with zhive, zhive-broker, zhive-worker) and
#  ZHIVE_PLUGIN (libzhive-examples.so); ctest sets both. Each command runs
#  under `timeout`; no fixed port is used (free ones are asked of the kernel).
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"
ZHIVE="$ZHIVE_BIN/zhive"
LOCAL=(--local 2 --load "$ZHIVE_PLUGIN")
LIMIT=60                                #  seconds any one command may take

TMP=$(mktemp -d)
PIDS=()                                 #  background processes to kill on exit
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"
trap 'exec 3>&- 2>/dev/null; kill_pids; rm -rf "$TMP"' EXIT

free_port () {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "--- help and usage"
run "$ZHIVE" --help
expect_rc 0 "--help"
grep -q "^Usage: zhive" "$TMP/out" || fail "--help prints no usage"
run "$ZHIVE" call -h
expect_rc 0 "call -h"
run "$ZHIVE" --version
expect_rc 0 "--version" && expect_out "zhive 0.1.0" "--version"
run "$ZHIVE" frobnicate
expect_rc 2 "unknown command" && expect_err "unknown command 'frobnicate'" "unknown command"
run "$ZHIVE"
expect_rc 2 "no command"
run "$ZHIVE" call
expect_rc 2 "call without function" && expect_err "missing FUNCTION" "call without function"
run "$ZHIVE" call echo '[1,' "${LOCAL[@]}"
expect_rc 2 "bad JSON args" && expect_err "bad JSON arguments" "bad JSON args"
run "$ZHIVE" call echo '{"a":1}' "${LOCAL[@]}"
expect_rc 2 "non-array args" && expect_err "must be a JSON array" "non-array args"
run "$ZHIVE" call echo '[1]' --local 2
expect_rc 2 "--local without --load" && expect_err "--local needs" "--local without --load"
run "$ZHIVE" call echo '[1]' --timeout soon
expect_rc 2 "bad number"
run "$ZHIVE" call echo '[1]' --frobnicate
expect_rc 2 "unknown option" && expect_err "unknown option '--frobnicate'" "unknown option"
run "$ZHIVE" call echo '[1]' --local
expect_rc 2 "option without value"
run "$ZHIVE" call echo '[1]' --local 1 --load /nonexistent/plugin.so
expect_rc 2 "missing plugin" && expect_err "cannot read plugin" "missing plugin"
run "$ZHIVE" --broker 'not an endpoint' call echo '[1]'
expect_rc 2 "invalid endpoint" && expect_err "invalid broker endpoint" "invalid endpoint"
printf '1\n2\n[1,\n4\n' >"$TMP/in"
run "$ZHIVE" map echo "${LOCAL[@]}" <"$TMP/in"
#  map reads stdin as it comes: the results before a bad line are printed,
#  then it stops with 2 naming the line (was: nothing printed, checked first)
expect_rc 2 "map bad JSON line" && expect_err "line 3: " "map bad JSON line" &&
    expect_out $'[1]\n[2]' "map bad JSON line: the results before it, then stop"
printf '[1]\n2\n' >"$TMP/in"
run "$ZHIVE" starmap echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 2 "starmap non-array line" && expect_err "line 2: " "starmap non-array line" &&
    expect_out '[1]' "starmap non-array line: the result before it"
#  One nesting limit (32 levels, what msgpack-c unpacks): a value at the
#  limit goes through, one past it is bad input (2), found before connecting
deep () { python3 -c "import sys; n = int(sys.argv[1]); print('[' * n + '1' + ']' * n)" "$1"; }
run "$ZHIVE" call echo "$(deep 32)" "${LOCAL[@]}"
expect_rc 0 "args 32 deep" && expect_out "$(deep 32)" "args 32 deep"
run "$ZHIVE" call echo "$(deep 33)" "${LOCAL[@]}"
expect_rc 2 "args 33 deep" && expect_err "nested 33 levels deep" "args 33 deep"
run "$ZHIVE" call echo "$(deep 100)" "${LOCAL[@]}"
expect_rc 2 "args 100 deep" && expect_err "nested 100 levels deep" "args 100 deep"
deep 31 >"$TMP/in"
run "$ZHIVE" map echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "map item 31 deep" && expect_out "$(deep 32)" "map item 31 deep (echo answers its argument array)"
{ echo 1; deep 32; } >"$TMP/in"
run "$ZHIVE" map echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 2 "map item 32 deep" && expect_err "line 2: nested 32 levels deep" "map item 32 deep"

echo "--- no broker"
port=$(free_port)
start=$(date +%s%N)
run "$ZHIVE" --broker "tcp://127.0.0.1:$port" --timeout 500 call echo '[1]'
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 3 "no broker" &&
    expect_err "no broker answered at tcp://127.0.0.1:$port within 500 ms" "no broker"
((elapsed < 5000)) || fail "no broker: took $elapsed ms with --timeout 500"
ZHIVE_BROKER="tcp://127.0.0.1:$port" run "$ZHIVE" status --timeout 300
expect_rc 3 "no broker via ZHIVE_BROKER" && expect_err "tcp://127.0.0.1:$port" "ZHIVE_BROKER"

echo "--- call"
run "$ZHIVE" call echo '[1,"a",{"k":[true,null]}]' "${LOCAL[@]}"
expect_rc 0 "call echo" && expect_out '[1,"a",{"k":[true,null]}]' "call echo"
run "$ZHIVE" --local 1 --load "$ZHIVE_PLUGIN" call echo '[1.5,-3,"\u00e9",{},[],"a\"b"]'
expect_rc 0 "call echo (options first)" && expect_out '[1.5,-3,"é",{},[],"a\"b"]' "call echo types"
run "$ZHIVE" call echo "${LOCAL[@]}"
expect_rc 0 "call echo no args" && expect_out '[]' "call echo no args"
run "$ZHIVE" call fib '[20]' "${LOCAL[@]}" --concurrency 4
expect_rc 0 "call fib" && expect_out '6765' "call fib"
run "$ZHIVE" call fail '["boom"]' "${LOCAL[@]}"
expect_rc 1 "call fail" && expect_err "error: ExampleError: boom" "call fail"
[[ ! -s "$TMP/out" ]] || fail "call fail: printed on stdout"
run "$ZHIVE" call fail '["boom"]' --keep-going "${LOCAL[@]}"
expect_rc 1 "call fail --keep-going"
python3 -c '
import json, sys
error = json.load(open(sys.argv[1]))["error"]
assert error["type"] == "ExampleError" and error["message"] == "boom" and error["worker"], error
' "$TMP/out" || fail "call fail --keep-going: bad error object: $(cat "$TMP/out")"

echo "--- timeout naming the function"
start=$(date +%s%N)
run "$ZHIVE" call nosuch --timeout 500 --local 1 --load "$ZHIVE_PLUGIN"
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 3 "call nosuch" && expect_err "zhive: timeout: nosuch" "call nosuch"
((elapsed < 15000)) || fail "call nosuch: took $elapsed ms with --timeout 500"

echo "--- map"
seq 1 2000 | awk '{print $1 % 25}' >"$TMP/in"
awk 'BEGIN { f[0] = 0; f[1] = 1; for (i = 2; i < 25; i++) f[i] = f[i - 1] + f[i - 2] }
     { print f[$1] }' "$TMP/in" >"$TMP/expected"
run "$ZHIVE" map fib "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "map fib 2000"
[[ $(wc -l <"$TMP/out") == 2000 ]] || fail "map fib 2000: $(wc -l <"$TMP/out") lines"
cmp -s "$TMP/out" "$TMP/expected" || fail "map fib 2000: results differ from expected"
[[ ! -s "$TMP/err" ]] || fail "map fib 2000: stderr not empty (progress bar off a terminal?)"

printf '1\n\n  \n"two"\n[3]\n{"four":4}\nnull\n' >"$TMP/in"
run "$ZHIVE" map echo --window 2 "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "map echo blank lines" &&
    expect_out $'[1]\n["two"]\n[[3]]\n[{"four":4}]\n[null]' "map echo blank lines"

: >"$TMP/in"
run "$ZHIVE" map echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "map empty input" && expect_out "" "map empty input"

echo "--- starmap"
seq 1 300 | awk '{printf "[%d,\"x%d\"]\n", $1, $1}' >"$TMP/in"
run "$ZHIVE" starmap echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "starmap echo"
cmp -s "$TMP/out" "$TMP/in" || fail "starmap echo: output differs"
printf '[1,2]\n[1,2]\n' >"$TMP/in"
run "$ZHIVE" starmap echo "${LOCAL[@]}" <"$TMP/in"
expect_rc 0 "starmap [1,2]" && expect_out $'[1,2]\n[1,2]' "starmap [1,2]"

echo "--- failures in a map"
printf '1\n2\n"x"\n3\n' >"$TMP/in"
run "$ZHIVE" map fib "${LOCAL[@]}" <"$TMP/in"
expect_rc 1 "map stops at failure" && expect_out $'1\n1' "map stops at failure" &&
    expect_err "error: BadArguments: " "map stops at failure" &&
    expect_err "[line 3]" "map failure names the line"
run "$ZHIVE" map fib --keep-going "${LOCAL[@]}" <"$TMP/in"
expect_rc 1 "map --keep-going"
python3 -c '
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])]
assert lines[0] == 1 and lines[1] == 1 and lines[3] == 2, lines
assert lines[2]["error"]["type"] == "BadArguments", lines
assert len(lines) == 4, lines
' "$TMP/out" || fail "map --keep-going: $(cat "$TMP/out")"
printf '["a"]\n["b"]\n' >"$TMP/in"
run "$ZHIVE" starmap fail -k "${LOCAL[@]}" <"$TMP/in"
expect_rc 1 "starmap fail -k"
[[ $(grep -c '"type":"ExampleError"' "$TMP/out") == 2 ]] || fail "starmap fail -k: $(cat "$TMP/out")"

echo "--- status of an embedded pool"
run "$ZHIVE" status --local 2 --load "$ZHIVE_PLUGIN" --concurrency 3
expect_rc 0 "status --local"
if [[ $(grep -c ' echo,fib,sleep,fail,crash$' "$TMP/out") != 2 ]] || ! grep -q '^WORKER ' "$TMP/out"; then
    fail "status --local: $(cat "$TMP/out")"
fi
run "$ZHIVE" status --json --local 1 --load "$ZHIVE_PLUGIN" --concurrency 3
expect_rc 0 "status --json --local"
python3 -c '
import json, sys
status = json.load(open(sys.argv[1]))
assert len(status["workers"]) == 1 and status["workers"][0]["concurrency"] == 3, status
' "$TMP/out" || fail "status --json --local: $(cat "$TMP/out")"

echo "--- a plugin that refuses to load"
#  --local runs the plugin's init once itself first: a refusal is exit 2 at
#  once, with the plugin's own message (was: exit 3 after ~10 s of workers
#  exiting before READY)
run "$ZHIVE" call echo '[1]' --local 1 --load "$ZHIVE_PLUGIN:bad-args"
expect_rc 2 "refusing plugin" && expect_err "takes no arguments" "refusing plugin"

echo "--- progress bar on a terminal"
seq 1 200 >"$TMP/in"
if timeout -k 5 "$LIMIT" script -qec "'$ZHIVE' map echo ${LOCAL[*]} <'$TMP/in' >'$TMP/out'" \
    /dev/null >"$TMP/tty" 2>&1; then
    [[ $(wc -l <"$TMP/out") == 200 ]] || fail "map on a terminal: $(wc -l <"$TMP/out") lines"
    grep -q '200/200' "$TMP/tty" || grep -q $'\r' "$TMP/tty" ||
        echo "note: map finished before the first progress redraw"
else
    fail "map with stderr on a terminal failed: $(head -c 1000 "$TMP/tty")"
fi

echo "--- a plugin in a directory whose name holds ':'"
#  --load PLUGIN[:ARGS] is split after the file name, as zhive-worker does:
#  a ':' in the directory is part of the path, one after ".so" starts ARGS
COLON_DIR="$TMP/plug:ins"
mkdir -p "$COLON_DIR"
cp "$ZHIVE_PLUGIN" "$COLON_DIR/libzhive-examples.so"
run "$ZHIVE" call echo '[1,"a:b"]' --local 1 --load "$COLON_DIR/libzhive-examples.so"
expect_rc 0 "plugin under a ':' folder" && expect_out '[1,"a:b"]' "plugin under a ':' folder"
#  The examples plugin takes no arguments: given some, it refuses, naming them
run "$ZHIVE" call echo '[1]' --local 1 --load "$COLON_DIR/libzhive-examples.so:bad-args"
expect_rc 2 "plugin under a ':' folder with ARGS" &&
    expect_err "takes no arguments, got 'bad-args'" "plugin under a ':' folder with ARGS"
rm -rf "$COLON_DIR"

echo "--- map streams: results before stdin is closed"
#  The writer keeps the fifo open while we wait for the first result
mkfifo "$TMP/fifo"
timeout -k 5 "$LIMIT" "$ZHIVE" map fib "${LOCAL[@]}" <"$TMP/fifo" >"$TMP/stream.out" 2>"$TMP/stream.err" &
STREAM=$!
PIDS+=("$STREAM")
exec 3>"$TMP/fifo"
printf '10\n11\n' >&3
for _ in $(seq 100); do
    [[ $(wc -l <"$TMP/stream.out") -lt 2 ]] || break
    sleep 0.1
done
[[ $(cat "$TMP/stream.out") == $'55\n89' ]] ||
    fail "map streams: no results within 10 s of two lines, stdin still open: '$(cat "$TMP/stream.out")' $(head -c 1000 "$TMP/stream.err")"
printf '12\n' >&3
exec 3>&-
status=0
wait "$STREAM" || status=$?
[[ "$status" == 0 ]] || fail "map streams: exit $status: $(head -c 1000 "$TMP/stream.err")"
[[ $(cat "$TMP/stream.out") == $'55\n89\n144' ]] || fail "map streams: '$(cat "$TMP/stream.out")'"

echo "--- map of a long input in bounded memory"
#  200,000 items of ~200 bytes (40 MB of input): a map that read all of it
#  first held it twice (the input, the map's copy); streaming holds a window
if [[ -x /usr/bin/time ]]; then
    pad=$(printf '%0200d' 0)
    seq 1 200000 | awk -v pad="$pad" '{ printf "\"%s%d\"\n", pad, $1 }' >"$TMP/long"
    limit=40000                         #  KiB; the old read-everything map took ~100,000 (this ~12,000)
    asan="${ASAN_OPTIONS:-}"
    if [[ "${ZHIVE_SANITIZE:-OFF}" == ON ]]; then
        #  ASan keeps freed memory in a quarantine (256 MB by default): a
        #  small one, and room for the shadow memory (this ~45,000)
        asan="${asan:+$asan:}quarantine_size_mb=8"
        limit=80000
    fi
    ASAN_OPTIONS="$asan" run /usr/bin/time -f %M -o "$TMP/rss" "$ZHIVE" map echo --quiet "${LOCAL[@]}" <"$TMP/long"
    expect_rc 0 "long map"
    [[ $(wc -l <"$TMP/out") == 200000 ]] || fail "long map: $(wc -l <"$TMP/out") lines"
    [[ $(tail -n 1 "$TMP/out") == "[\"${pad}200000\"]" ]] || fail "long map: last line wrong"
    rss=$(tail -n 1 "$TMP/rss")
    echo "long map: max RSS $rss KiB (bound $limit KiB)"
    ((rss < limit)) || fail "long map: max RSS $rss KiB, over $limit KiB: is stdin read whole?"
else
    fail "/usr/bin/time is missing (Debian package 'time', .ci/install-deps installs it)"
fi

echo "--- a plugin that cannot load is reported at once, with the loader's reason"
echo "not a shared object" >"$TMP/x.so"
start=$(date +%s%N)
run "$ZHIVE" call echo '[1]' --local 1 --load "$TMP/x.so"
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 2 "not a plugin" && expect_err "cannot load plugin '$TMP/x.so': $TMP/x.so: " "not a plugin"
((elapsed < 3000)) || fail "not a plugin: reported after $elapsed ms"
libc=$(python3 -c 'import ctypes.util; print(ctypes.util.find_library("c"))')
start=$(date +%s%N)
run "$ZHIVE" map echo --local 1 --load "$libc" </dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 2 "a .so without zhive_plugin_init" &&
    expect_err "is not a zhive plugin: it has no zhive_plugin_init function" "a .so without zhive_plugin_init"
((elapsed < 3000)) || fail "a .so without zhive_plugin_init: reported after $elapsed ms"

echo "--- --load by bare name: \$ZHIVE_PLUGIN_PATH, then the loader's search"
mkdir -p "$TMP/plugins"
cp "$ZHIVE_PLUGIN" "$TMP/plugins/libzhive-examples.so"
ZHIVE_PLUGIN_PATH="$TMP/nowhere::$TMP/plugins" run "$ZHIVE" call fib '[12]' --local 1 --load libzhive-examples.so
expect_rc 0 "bare name on ZHIVE_PLUGIN_PATH" && expect_out 144 "bare name on ZHIVE_PLUGIN_PATH"
run env -u ZHIVE_PLUGIN_PATH LD_LIBRARY_PATH="$TMP/plugins" "$ZHIVE" call fib '[12]' --local 1 --load libzhive-examples.so
expect_rc 0 "bare name by dlopen's search" && expect_out 144 "bare name by dlopen's search"
run env -u ZHIVE_PLUGIN_PATH "$ZHIVE" call fib '[12]' --local 1 --load libzhive-nowhere.so
expect_rc 2 "bare name found nowhere" && expect_err "libzhive-nowhere.so: cannot open shared object file" "bare name found nowhere"

echo "--- a plugin whose init fails is reported at once, with its own message"
start=$(date +%s%N)
run "$ZHIVE" call echo '[1]' --local 1 --load "$ZHIVE_PLUGIN:bad-args"
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 2 "plugin init fails" && expect_err "takes no arguments, got 'bad-args'" "plugin init fails" &&
    expect_err "refused to initialise" "plugin init fails"
((elapsed < 3000)) || fail "plugin init fails: reported after $elapsed ms"
start=$(date +%s%N)
run "$ZHIVE" map echo --local 2 --load "$ZHIVE_PLUGIN" --load "$ZHIVE_PLUGIN:bad-args" </dev/null
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 2 "second plugin's init fails" && expect_err "takes no arguments" "second plugin's init fails"
((elapsed < 3000)) || fail "second plugin's init fails: reported after $elapsed ms"

echo "--- a misspelled function: UnknownFunction within the broker's bound"
: >"$TMP/ubroker.log"
"$ZHIVE_BIN/zhive-broker" --clients 'tcp://127.0.0.1:*' --workers 'tcp://127.0.0.1:*' \
    --local-workers 1 --load "$ZHIVE_PLUGIN" --unknown-function-timeout 1000 >"$TMP/ubroker.log" 2>&1 &
UBROKER=$!
PIDS+=("$UBROKER")
UENDPOINT=""
for _ in $(seq 100); do
    UENDPOINT=$(sed -n 's/^zhive-broker: clients \(tcp:[^,]*\), workers tcp:.*/\1/p' "$TMP/ubroker.log")
    [[ -z "$UENDPOINT" ]] || break
    sleep 0.1
done
if [[ -z "$UENDPOINT" ]]; then
    fail "broker with --unknown-function-timeout: no endpoint: $(head -c 1000 "$TMP/ubroker.log")"
else
    #  The bound counts for tasks that come before any worker too: wait for ours
    for _ in $(seq 100); do
        run "$ZHIVE" --broker "$UENDPOINT" status --json
        python3 -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["workers"] else 1)' \
            "$TMP/out" 2>/dev/null && break
        sleep 0.1
    done
    run "$ZHIVE" --broker "$UENDPOINT" call fib '[10]' --timeout 20000
    expect_rc 0 "known function" && expect_out 55 "known function"
    start=$(date +%s%N)
    run "$ZHIVE" --broker "$UENDPOINT" call fibb '[1]' --timeout 20000
    elapsed=$((($(date +%s%N) - start) / 1000000))
    expect_rc 1 "misspelled function" && expect_err "UnknownFunction" "misspelled function" &&
        expect_err "no worker offers 'fibb'" "misspelled function"
    ((elapsed >= 900 && elapsed < 10000)) || fail "misspelled function: answered after $elapsed ms"
fi
kill -TERM "$UBROKER" 2>/dev/null || true
wait "$UBROKER" 2>/dev/null || true
run "$ZHIVE_BIN/zhive-broker" --unknown-function-timeout soon
expect_rc 2 "bad --unknown-function-timeout"
run "$ZHIVE_BIN/zhive-broker" --help
expect_rc 0 "broker --help"
grep -q -- "--unknown-function-timeout MS" "$TMP/out" || fail "broker --help lacks --unknown-function-timeout"

if ((FAILURES)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "all zhive CLI checks passed"
