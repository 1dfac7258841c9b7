#!/usr/bin/env bash
#  test_e2e.sh - zhive-broker, zhive-worker and zhive as separate processes
#
#  Needs ZHIVE_BIN (folder with zhive, zhive-broker, zhive-worker) and
#  ZHIVE_PLUGIN (libzhive-examples.so); ctest sets both, and ZHIVE_BUILD
#  (the build folder, installed to a scratch prefix at the end), CMAKE and
#  ZHIVE_SANITIZE. Every process we
#  start in the background is killed by its pid on exit; every foreground
#  command runs under `timeout`. Only 127.0.0.1 and kernel-chosen free ports.
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"
ZHIVE="$ZHIVE_BIN/zhive"
LIMIT=60                                #  seconds any one command may take

TMP=$(mktemp -d)
PIDS=()                                 #  background processes to kill on exit
cleanup () {
    kill_pids
    rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

#  stop_broker PID NAME: SIGTERM, then it must exit within 10 s and leave
#  none of its zhive-worker children behind
stop_broker () {
    local pid=$1 name=$2 children status=0 waited=0
    children=$(pgrep -P "$pid" 2>/dev/null || true)
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name: still running 10 s after SIGTERM"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" || status=$?
    [[ "$status" == 0 ]] || fail "$name: exit status $status after SIGTERM, expected 0"
    local child
    for child in $children; do
        #  The children had 10 s with the broker; give them 2 s more
        waited=0
        while kill -0 "$child" 2>/dev/null && ((waited < 20)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$child" 2>/dev/null; then
            fail "$name: left child $child ($(cat "/proc/$child/comm" 2>/dev/null)) running"
            kill -KILL "$child" 2>/dev/null || true
        fi
    done
}

#  A peer that does not speak ZMTP: random bytes, then a ZMTP-looking
#  greeting followed by junk, written straight to a broker's TCP port.
#  Last, a ZMTP/1.0 peer whose second frame announces 256 GiB: a broker
#  that caps frame sizes (ZMQ_MAXMSGSIZE) drops it before allocating;
#  without a cap libzmq tries malloc (which a sanitizer build aborts on)
garbage () {
    local port=$1
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        printf '\x01\x00\xff\x00\x00\x00\x40\x00\x00\x00\x00\x00' >&3
        sleep 0.2
    ) 2>/dev/null || true
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        head -c 4096 /dev/urandom >&3
    ) 2>/dev/null || true
    (
        exec 3<>"/dev/tcp/127.0.0.1/$port"
        printf '\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL' >&3
        head -c 300 /dev/zero >&3
        head -c 2048 /dev/urandom >&3
    ) 2>/dev/null || true
}

echo "--- broker and a separate worker"
read -r CLIENTS WORKERS < <(free_ports)
"$ZHIVE_BIN/zhive-broker" --clients "tcp://127.0.0.1:$CLIENTS" \
    --workers "tcp://127.0.0.1:$WORKERS" >"$TMP/broker1.log" 2>&1 &
BROKER=$!
PIDS+=("$BROKER")
"$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$WORKERS" --load "$ZHIVE_PLUGIN" \
    --name e2e-worker 2>"$TMP/worker.log" &
WORKER=$!
PIDS+=("$WORKER")
B=(--broker "tcp://127.0.0.1:$CLIENTS")

run "$ZHIVE" "${B[@]}" --timeout 20000 call fib '[20]'
expect_rc 0 "call fib through the broker"
expect_out 6765 "call fib through the broker"

run "$ZHIVE" "${B[@]}" status --json
expect_rc 0 "status --json"
python3 -c '
import json, socket, sys
status = json.load(open(sys.argv[1]))
workers = [w for w in status["workers"] if w["id"] == "e2e-worker"]
assert workers, status
worker = workers[0]
assert worker["host"] == socket.gethostname(), worker
assert {"echo", "fib", "sleep", "fail", "crash"} <= set(worker["functions"]), worker
assert worker["done"] >= 1 and worker["in_flight"] == 0 and worker["concurrency"] >= 1, worker
assert worker["pid"] == int(sys.argv[2]), worker
assert any(q["function"] == "fib" for q in status["queues"]) or status["queues"] == [], status
' "$TMP/out" "$WORKER" || fail "status --json: $(cat "$TMP/out")"
[[ $(wc -l <"$TMP/out") == 1 ]] || fail "status --json: not one line"

run "$ZHIVE" "${B[@]}" status
expect_rc 0 "status"
if ! grep -q '^WORKER ' "$TMP/out" || ! grep -q '^e2e-worker ' "$TMP/out"; then
    fail "status table: $(cat "$TMP/out")"
fi

seq 0 299 | awk '{print $1 % 20}' >"$TMP/in"
awk 'BEGIN { f[0] = 0; f[1] = 1; for (i = 2; i < 20; i++) f[i] = f[i - 1] + f[i - 2] }
     { print f[$1] }' "$TMP/in" >"$TMP/expected"
run "$ZHIVE" "${B[@]}" --timeout 20000 map fib <"$TMP/in"
expect_rc 0 "map fib through the broker"
cmp -s "$TMP/out" "$TMP/expected" || fail "map fib through the broker: wrong results"

echo "--- garbage on both broker ports"
garbage "$CLIENTS"
garbage "$WORKERS"
sleep 0.5
kill -0 "$BROKER" 2>/dev/null || fail "the broker died of garbage: $(tail -c 2000 "$TMP/broker1.log")"
run "$ZHIVE" "${B[@]}" --timeout 20000 call echo '["still here"]'
expect_rc 0 "call after garbage"
expect_out '["still here"]' "call after garbage"

kill -TERM "$WORKER"
wait "$WORKER" || true
stop_broker "$BROKER" "broker with a separate worker"

echo "--- broker with local workers"
read -r CLIENTS WORKERS < <(free_ports)
"$ZHIVE_BIN/zhive-broker" --clients "tcp://127.0.0.1:$CLIENTS" \
    --workers "tcp://127.0.0.1:$WORKERS" --local-workers 2 --load "$ZHIVE_PLUGIN" \
    >"$TMP/broker2.log" 2>&1 &
BROKER=$!
PIDS+=("$BROKER")
B=(--broker "tcp://127.0.0.1:$CLIENTS")

seq 1 500 | awk '{print $1 % 23}' >"$TMP/in"
awk 'BEGIN { f[0] = 0; f[1] = 1; for (i = 2; i < 23; i++) f[i] = f[i - 1] + f[i - 2] }
     { print f[$1] }' "$TMP/in" >"$TMP/expected"
run "$ZHIVE" "${B[@]}" --timeout 20000 map fib <"$TMP/in"
expect_rc 0 "map of 500 on local workers"
[[ $(wc -l <"$TMP/out") == 500 ]] || fail "map of 500: $(wc -l <"$TMP/out") lines"
cmp -s "$TMP/out" "$TMP/expected" || fail "map of 500 on local workers: wrong results"

before=$(pgrep -P "$BROKER" | sort | tr '\n' ' ' || true)
[[ $(wc -w <<<"$before") == 2 ]] || fail "expected 2 local workers, found: '$before'"
run "$ZHIVE" "${B[@]}" --timeout 3000 call crash
[[ "$RC" == 1 || "$RC" == 3 ]] || fail "call crash: exit $RC, expected 1 or 3"
echo "call crash: exit $RC: $(head -c 300 "$TMP/err")"
run "$ZHIVE" "${B[@]}" --timeout 20000 call fib '[10]'
expect_rc 0 "call after a crash"
expect_out 55 "call after a crash"
#  The broker restarts a crashed worker after a short back-off
for _ in $(seq 100); do
    after=$(pgrep -P "$BROKER" | sort | tr '\n' ' ' || true)
    [[ $(wc -w <<<"$after") != 2 ]] || break
    sleep 0.1
done
[[ $(wc -w <<<"$after") == 2 ]] || fail "after the crash: expected 2 local workers, found '$after'"
[[ "$before" != "$after" ]] || fail "after the crash: no worker was restarted ($after)"
kill -0 "$BROKER" 2>/dev/null || fail "the broker died: $(tail -c 2000 "$TMP/broker2.log")"

stop_broker "$BROKER" "broker with local workers"

echo "--- a worker fails over to its second broker when the first dies"
read -r CLIENTS_A WORKERS_A < <(free_ports)
read -r CLIENTS_B WORKERS_B < <(free_ports)
"$ZHIVE_BIN/zhive-broker" --clients "tcp://127.0.0.1:$CLIENTS_A" \
    --workers "tcp://127.0.0.1:$WORKERS_A" 2>"$TMP/broker-a.log" &
BROKER_A=$!
PIDS+=("$BROKER_A")
"$ZHIVE_BIN/zhive-broker" --clients "tcp://127.0.0.1:$CLIENTS_B" \
    --workers "tcp://127.0.0.1:$WORKERS_B" 2>"$TMP/broker-b.log" &
BROKER_B=$!
PIDS+=("$BROKER_B")
#  Both brokers answer before the worker starts (else it may rightly move on
#  from a broker that is not up yet)
run "$ZHIVE" --broker "tcp://127.0.0.1:$CLIENTS_A" --timeout 10000 status
expect_rc 0 "failover: broker A is up"
run "$ZHIVE" --broker "tcp://127.0.0.1:$CLIENTS_B" --timeout 10000 status
expect_rc 0 "failover: broker B is up"
"$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$WORKERS_A" \
    --connect "tcp://127.0.0.1:$WORKERS_B" --heartbeat 200 --liveness 2 \
    --load "$ZHIVE_PLUGIN" 2>"$TMP/failover-worker.log" &
PIDS+=("$!")
run "$ZHIVE" --broker "tcp://127.0.0.1:$CLIENTS_A" --timeout 10000 call fib '[10]'
expect_rc 0 "failover: call through the first broker" && expect_out "55" "failover: first broker"
kill -KILL "$BROKER_A"
wait "$BROKER_A" 2>/dev/null || true
#  The worker moves on after 2 x 200 ms x 2 without a connection
run "$ZHIVE" --broker "tcp://127.0.0.1:$CLIENTS_B" --timeout 15000 call fib '[11]'
expect_rc 0 "failover: call through the second broker" && expect_out "89" "failover: second broker"
grep -qF "trying tcp://127.0.0.1:$WORKERS_B" "$TMP/failover-worker.log" \
    || fail "failover: the worker did not say it moved on: $(head -c 1000 "$TMP/failover-worker.log")"

echo "--- the example C service (examples/service.c) on its own embedded pool"
run "$ZHIVE_BIN/zhive-example-service" --local "$ZHIVE_PLUGIN"
expect_rc 0 "example service"
grep -qF "fib(25) = 75025" "$TMP/out" || fail "example service: no fib(25) line: $(head -c 500 "$TMP/out")"
grep -qF "fib(0..19) = 0 1 1 2 3 5 8 13 21 34 55 89 144 233 377 610 987 1597 2584 4181" "$TMP/out" \
    || fail "example service: map results wrong: $(head -c 500 "$TMP/out")"
grep -qF "fail() failed: ExampleError: something went wrong (worker " "$TMP/out" \
    || fail "example service: no error line: $(head -c 500 "$TMP/out")"

echo "--- an install: the programs start, C programs build on it (pkg-config, CMake), plugins by bare name"
#  No LD_LIBRARY_PATH anywhere: the installed programs and plugin find
#  libzhive by their RUNPATH ($ORIGIN/../lib, $ORIGIN/..), the CLI links
#  it statically, and the services get a -rpath (pkg-config) or CMake's
#  build RPATH. The install is moved after `cmake --install`: all of it
#  (zhive.pc, zhiveConfig.cmake, the plugin folder) must be relocatable.
#
#  The installed zhive-worker finds a bare plugin name: worker/zhive_plugin.c
#  resolves --load names with zhive_plugin_resolve (common/zhive_plugin_path.h)

#  start_broker LOAD: an installed broker on kernel-chosen ports (tcp://127.0.0.1:*)
#  with 2 local workers loading LOAD; sets BROKER and ENDPOINT (the clients
#  endpoint it prints)
start_broker () {
    : >"$TMP/ibroker.log"
    env -u LD_LIBRARY_PATH -u ZHIVE_PLUGIN_PATH -u ZHIVE_WORKER "$PREFIX/bin/zhive-broker" \
        --clients 'tcp://127.0.0.1:*' --workers 'tcp://127.0.0.1:*' \
        --local-workers 2 --load "$1" >"$TMP/ibroker.log" 2>&1 &
    BROKER=$!
    PIDS+=("$BROKER")
    ENDPOINT=""
    for _ in $(seq 100); do
        ENDPOINT=$(sed -n 's/^zhive-broker: clients \(tcp:[^,]*\), workers tcp:.*/\1/p' "$TMP/ibroker.log")
        [[ -z "$ENDPOINT" ]] || break
        sleep 0.1
    done
    [[ "$ENDPOINT" =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]] ||
        fail "installed broker on tcp://127.0.0.1:*: no bound endpoint printed: $(head -c 1000 "$TMP/ibroker.log")"
}

#  check_service NAME OUTPUT-FILE: the service's lines, as it prints them
check_service () {
    grep -qF "fib(25) = 75025" "$2" || return 1
    grep -qF "fib(0..19) = 0 1 1 2 3 5 8 13 21 34 55 89 144 233 377 610 987 1597 2584 4181" "$2" || return 1
    grep -qF "fail() failed: ExampleError: something went wrong (worker " "$2"
}

#  service_runs NAME BINARY LOAD: BINARY against an installed broker whose
#  workers load LOAD, then on its own pool (--local LOAD) with the installed
#  worker. Returns 1 after printing why if either fails
service_runs () {
    local name=$1 binary=$2 load=$3 ok=0
    start_broker "$load"
    if [[ -n "$ENDPOINT" ]]; then
        run env -u LD_LIBRARY_PATH "$binary" "$ENDPOINT"
        if [[ "$RC" != 0 ]] || ! check_service "$name" "$TMP/out"; then
            echo "$name --load $load via the installed broker: exit $RC: $(head -c 500 "$TMP/out") $(head -c 500 "$TMP/err") broker: $(tail -c 1000 "$TMP/ibroker.log")" >&2
            ok=1
        fi
    else
        ok=1
    fi
    stop_broker "$BROKER" "installed broker ($name, --load $load)"
    run env -u LD_LIBRARY_PATH -u ZHIVE_PLUGIN_PATH ZHIVE_WORKER="$PREFIX/bin/zhive-worker" \
        "$binary" --local "$load"
    if [[ "$RC" != 0 ]] || ! check_service "$name" "$TMP/out"; then
        echo "$name --local $load with the installed worker: exit $RC: $(head -c 500 "$TMP/out") $(head -c 500 "$TMP/err")" >&2
        ok=1
    fi
    return $ok
}

if [[ -n "${ZHIVE_BUILD:-}" ]]; then
    run "${CMAKE:-cmake}" --install "$ZHIVE_BUILD" --prefix "$TMP/installed"
    expect_rc 0 "cmake --install"
    PREFIX="$TMP/prefix"
    mv "$TMP/installed" "$PREFIX"
    for program in zhive zhive-broker zhive-worker; do
        run env -u LD_LIBRARY_PATH "$PREFIX/bin/$program" --help
        expect_rc 0 "installed $program --help"
        grep -qi '^usage: ' "$TMP/out" || fail "installed $program --help: $(head -c 500 "$TMP/out")"
    done
    pc=$(find "$PREFIX" -name zhive.pc -print -quit)
    plugin=$(find "$PREFIX" -name libzhive-examples.so -print -quit)
    libdir=$(dirname "$(dirname "$pc")")
    [[ "$plugin" == "$libdir/zhive/libzhive-examples.so" ]] || fail "the plugin is not in LIBDIR/zhive: $plugin"
    [[ -f "$libdir/cmake/zhive/zhiveConfig.cmake" && -f "$libdir/cmake/zhive/zhiveConfigVersion.cmake" ]] ||
        fail "no CMake package in $libdir/cmake/zhive: $(ls "$libdir/cmake/zhive" 2>&1)"

    #  The installed CLI finds the plugin by its bare name in its own
    #  install (bin/../lib/zhive), moved or not
    run env -u LD_LIBRARY_PATH -u ZHIVE_PLUGIN_PATH "$PREFIX/bin/zhive" call fib '[20]' \
        --local 1 --load libzhive-examples.so
    expect_rc 0 "installed zhive --local with a bare plugin name" &&
        expect_out 6765 "installed zhive --local with a bare plugin name"

    flags=()
    [[ "${ZHIVE_SANITIZE:-OFF}" != ON ]] || flags=(-fsanitize=address,undefined)
    service_c=$(cd "$(dirname "$0")/../examples" && pwd)/service.c
    # shellcheck disable=SC2046    # pkg-config prints words to split
    run ${CC:-cc} "${flags[@]}" -Wall -Werror -o "$TMP/service-pc" "$service_c" \
        $(PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs zhive) -Wl,-rpath,"$libdir"
    expect_rc 0 "examples/service.c built on the install with pkg-config"

    #  A CMake project of its own: find_package (zhive) and zhive::zhive
    mkdir -p "$TMP/consumer"
    cat >"$TMP/consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required (VERSION 3.16)
project (zhive_consumer LANGUAGES C)
find_package (zhive 0.1 REQUIRED)
foreach (target zhive::zhive zhive::zhive_static)
    if (NOT TARGET ${target})
        message (FATAL_ERROR "find_package (zhive) gave no ${target}")
    endif ()
endforeach ()
add_executable (service ${SERVICE_C})
target_compile_options (service PRIVATE -Wall -Werror)
target_link_libraries (service PRIVATE zhive::zhive)
CMAKE
    run env -u PKG_CONFIG_PATH "${CMAKE:-cmake}" -S "$TMP/consumer" -B "$TMP/consumer/build" \
        -DCMAKE_PREFIX_PATH="$PREFIX" -DSERVICE_C="$service_c" -DCMAKE_C_FLAGS="${flags[*]}" \
        -DCMAKE_EXE_LINKER_FLAGS="${flags[*]}"
    expect_rc 0 "a CMake project: find_package (zhive) on the install"
    run "${CMAKE:-cmake}" --build "$TMP/consumer/build"
    expect_rc 0 "examples/service.c built on the install with CMake (zhive::zhive)"
    grep -rqF "$PREFIX/" "$TMP/consumer/build/CMakeCache.txt" ||
        fail "the CMake project did not find zhive in $PREFIX"

    #  Does the installed worker load a bare name? One that cannot exits at
    #  once ("cannot load"); one that can waits for its (absent) broker
    read -r port < <(free_ports 1)
    bare=0
    timeout -k 2 3 env -u LD_LIBRARY_PATH -u ZHIVE_PLUGIN_PATH "$PREFIX/bin/zhive-worker" \
        --connect "tcp://127.0.0.1:$port" --load libzhive-examples.so >/dev/null 2>"$TMP/probe.err" ||
        [[ $? != 124 ]] || bare=1
    ((bare)) || fail "the installed zhive-worker does not find a bare plugin name: $(head -c 300 "$TMP/probe.err")"
    load=libzhive-examples.so
    for built in service-pc consumer/build/service; do
        [[ -x "$TMP/$built" ]] || continue
        service_runs "$built" "$TMP/$built" "$load" ||
            fail "$built (--load $load) through the installed broker and worker"
    done
else
    echo "SKIP: ZHIVE_BUILD not set (ctest sets it): no install to check"
fi

if ((FAILURES)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "all end-to-end checks passed"
