#!/usr/bin/env bash
#  lib.sh - test hosts for zhive made of Linux network namespaces
#
#  Sourced by the tests/netns/test_*.sh scripts. It makes five namespaces,
#  named zhnt<PID>-<role> after the test script's pid so parallel runs never
#  clash:
#
#      zhnt<PID>-sw   the "switch": a bridge br0 with one port per host
#      zhnt<PID>-br   broker host    10.77.0.1/24   (port p-br on the switch)
#      zhnt<PID>-wa   worker host A  10.77.0.11/24  (port p-wa)
#      zhnt<PID>-wb   worker host B  10.77.0.12/24  (port p-wb)
#      zhnt<PID>-cl   client host    10.77.0.21/24  (port p-cl)
#
#  Each host has lo and eth0, one end of a veth pair whose other end is its
#  port on the switch. Both ends are created inside the namespaces (never in
#  the machine's own network namespace), the subnet exists only on those
#  links and no host has a default route, so no test packet can leave them.
#  Cutting a host off = setting its switch port down; latency = netem on
#  both ends of its link.
#
#  The programs run in the namespaces with `ip netns exec`; a worker also
#  gets its own UTS namespace and host name (wA, wB), since READY carries
#  gethostname () and network namespaces share the machine's host name.
#
#  On exit (normal, failure, signal) the trap kills every process the test
#  started, by pid, then every process still inside our namespaces, and
#  deletes the namespaces; deleting the switch deletes the veth pairs.
#  Namespaces left by an earlier run that was killed (SIGKILL from a ctest
#  timeout skips traps) are removed first, but only ours: names zhnt<PID>-*
#  whose <PID> is no longer a tests/netns script.
#
#  Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN), iproute2 and unshare; without
#  them a test prints "SKIP: ..." and exits 77, which ctest reports as
#  skipped (SKIP_RETURN_CODE). Environment: ZHIVE_BIN (folder with zhive,
#  zhive-broker, zhive-worker), ZHIVE_PLUGIN (libzhive-examples.so).

# shellcheck disable=SC2034  # variables here are for the scripts that source this
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"

NETNS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NETNS_PREFIX=zhnt                       #  every namespace we make starts so
NETNS_RUN="$NETNS_PREFIX$$"             #  ... and this run's with this
NETNS_ROLES=(sw br wa wb cl)
declare -A NETNS_ADDR=([br]=10.77.0.1 [wa]=10.77.0.11 [wb]=10.77.0.12 [cl]=10.77.0.21)
BROKER_ADDR=${NETNS_ADDR[br]}
CLIENT_EP="tcp://$BROKER_ADDR:5555"
WORKER_EP="tcp://$BROKER_ADDR:5556"
LIMIT=${LIMIT:-120}                     #  seconds any one foreground command may take

NETNS_MADE=()                           #  namespaces this run created
declare -A PID=()                       #  name -> pid of each background process
TMP=$(mktemp -d)
FAILURES=0
trap netns_cleanup EXIT                 #  (defined below; runs on skip too)

ns () { echo "$NETNS_RUN-$1"; }

fail () {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

skip () {
    echo "SKIP: $*"
    exit 77
}

#  Milliseconds since the epoch
now_ms () {
    local us=${EPOCHREALTIME//[!0-9]/}
    echo $((us / 1000))
}

#  ---------------------------------------------------------------------
#  Cleanup

#  netns_purge NS: kill what still runs inside namespace NS (only ever one of
#  ours), then delete it
netns_purge () {
    local ns=$1 pid
    for pid in $(ip netns pids "$ns" 2>/dev/null); do
        kill -KILL "$pid" 2>/dev/null || true
    done
    ip netns del "$ns" 2>/dev/null || true
}

netns_cleanup () {
    local status=$? name pid ns
    trap - EXIT INT TERM HUP PIPE
    for name in "${!PID[@]}"; do
        kill -KILL "${PID[$name]}" 2>/dev/null || true
    done
    for name in "${!PID[@]}"; do
        wait "${PID[$name]}" 2>/dev/null || true
    done
    for ns in "${NETNS_MADE[@]}"; do
        netns_purge "$ns"
    done
    if ip netns list 2>/dev/null | grep -q "^$NETNS_RUN-"; then
        echo "FAIL: namespaces left behind: $(ip netns list | grep "^$NETNS_RUN-" | tr '\n' ' ')" >&2
        status=1
    fi
    if [[ $status != 0 && $status != 77 && -n "${NETNS_KEEP_LOGS:-}" ]]; then
        echo "logs kept in $TMP" >&2
    else
        rm -rf "$TMP"
    fi
    exit "$status"
}

#  Namespaces of earlier runs that died without their trap: zhnt<PID>-<role>
#  where PID is not a live tests/netns script any more
netns_clean_stale () {
    local ns owner
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        [[ $ns =~ ^$NETNS_PREFIX([0-9]+)-(sw|br|wa|wb|cl)$ ]] || continue
        owner=${BASH_REMATCH[1]}
        if [[ -r /proc/$owner/cmdline && $(tr '\0' ' ' <"/proc/$owner/cmdline") == *netns/test_* ]]; then
            continue                    #  a live run's
        fi
        echo "removing stale namespace $ns (its run, pid $owner, is gone)"
        netns_purge "$ns"
    done
}

#  ---------------------------------------------------------------------
#  Set up: root check, namespaces, the switch and the links

netns_init () {
    [[ $(id -u) == 0 ]] || skip "needs root and network namespaces (not root)"
    command -v ip >/dev/null || skip "needs root and network namespaces (no ip: install iproute2)"
    command -v unshare >/dev/null || skip "needs unshare (util-linux)"
    command -v python3 >/dev/null || skip "needs python3 (to read status JSON)"
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    trap 'exit 141' PIPE
    netns_clean_stale
    local role
    for role in "${NETNS_ROLES[@]}"; do
        if ! ip netns add "$(ns "$role")" 2>"$TMP/netns.err"; then
            skip "needs root and network namespaces (ip netns add: $(head -c 300 "$TMP/netns.err"))"
        fi
        NETNS_MADE+=("$(ns "$role")")
        ip -n "$(ns "$role")" link set lo up
    done
    local sw
    sw=$(ns sw)
    ip -n "$sw" link add br0 type bridge 2>"$TMP/netns.err" ||
        skip "needs the bridge driver ($(head -c 300 "$TMP/netns.err"))"
    ip -n "$sw" link set br0 up
    for role in br wa wb cl; do
        ip -n "$sw" link add "p-$role" type veth peer name eth0 netns "$(ns "$role")" 2>"$TMP/netns.err" ||
            skip "needs veth links ($(head -c 300 "$TMP/netns.err"))"
        ip -n "$sw" link set "p-$role" master br0 up
        ip -n "$(ns "$role")" addr add "${NETNS_ADDR[$role]}/24" dev eth0
        ip -n "$(ns "$role")" link set eth0 up
    done
    #  The hosts see each other? (a bridge port with STP off forwards at once)
    local tries=0 said
    while :; do
        said=$(timeout 5 ip netns exec "$(ns cl)" bash -c "exec 3<>/dev/tcp/$BROKER_ADDR/9" 2>&1) || true
        [[ $said == *refused* ]] && break
        tries=$((tries + 1))
        ((tries < 4)) || { fail "the client host cannot reach the broker host: $said"; exit 1; }
        sleep 0.5
    done
}

#  True when tc's netem qdisc works here (kernel module sch_netem)
netns_have_netem () {
    local sw
    sw=$(ns sw)
    if tc -n "$sw" qdisc add dev lo root netem delay 1ms 2>/dev/null; then
        tc -n "$sw" qdisc del dev lo root 2>/dev/null || true
        return 0
    fi
    return 1
}

#  netns_port_down ROLE / netns_port_up ROLE: cut a host off the switch (and
#  plug it back); its eth0 loses carrier, both directions stop
netns_port_down () { ip -n "$(ns sw)" link set "p-$1" down; }
netns_port_up () { ip -n "$(ns sw)" link set "p-$1" up; }

#  ---------------------------------------------------------------------
#  Processes

#  True when PROGRAM's --help mentions OPTION (options still being added)
has_option () {
    [[ $("$ZHIVE_BIN/$1" --help 2>&1) == *"$2"* ]]
}

#  netns_bg NAME ROLE CMD...: start CMD in ROLE's namespace in the background;
#  stdout and stderr in $TMP/NAME.log, pid in PID[NAME]
netns_bg () {
    local name=$1 role=$2
    shift 2
    ip netns exec "$(ns "$role")" "$@" >"$TMP/$name.log" 2>&1 &
    PID[$name]=$!
}

#  start_broker ARGS...: zhive-broker on the broker host, verbose
start_broker () {
    netns_bg broker br "$ZHIVE_BIN/zhive-broker" --clients 'tcp://*:5555' --workers 'tcp://*:5556' -v "$@"
}

#  start_worker NAME ROLE HOSTNAME ARGS...: zhive-worker on host ROLE, with
#  its own UTS namespace so gethostname () says HOSTNAME
start_worker () {
    local name=$1 role=$2 host=$3
    shift 3
    netns_bg "$name" "$role" unshare --uts sh -c 'hostname "$0" && exec "$@"' "$host" \
        "$ZHIVE_BIN/zhive-worker" --load "$ZHIVE_PLUGIN" "$@"
}

#  stop NAME: SIGTERM, up to 10 s to exit, then SIGKILL (a failure)
stop () {
    local name=$1 pid=${PID[$1]} waited=0
    kill -TERM "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "$name: still running 10 s after SIGTERM"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    unset "PID[$name]"
}

#  zh ARGS...: the zhive CLI on the client host, bounded by $LIMIT
zh () {
    timeout -k 5 "$LIMIT" ip netns exec "$(ns cl)" "$ZHIVE_BIN/zhive" --broker "$CLIENT_EP" "$@"
}

#  workers_table: `zhive status --json` on stdin -> "id host in_flight done" lines
workers_table () {
    python3 -c '
import json, sys
for w in json.load(sys.stdin)["workers"]:
    print(w["id"], w["host"], w["in_flight"], w["done"])'
}

#  status_table: the broker's workers now, one line each (empty if no answer)
status_table () {
    local json
    json=$(zh --timeout 2000 status --json 2>/dev/null) || return 0
    workers_table <<<"$json"
}

#  wait_workers HOST...: until a worker on each HOST is in the broker's status
wait_workers () {
    local deadline=$(($(now_ms) + 20000)) host missing table name
    while :; do
        table=$(status_table)
        missing=""
        for host in "$@"; do
            awk -v h="$host" '$2 == h {found = 1} END {exit !found}' <<<"$table" || missing+=" $host"
        done
        [[ -z $missing ]] && return 0
        for name in "${!PID[@]}"; do
            if [[ $name == worker* ]] && ! kill -0 "${PID[$name]}" 2>/dev/null; then
                fail "$name exited before joining: $(head -c 500 "$TMP/$name.log")"
                exit 1
            fi
        done
        if (($(now_ms) > deadline)); then
            fail "workers on$missing did not join within 20 s; status: $table"
            dump_logs
            exit 1
        fi
        sleep 0.2
    done
}

#  check_logs: a sanitizer build reports leaks and errors on stderr
check_logs () {
    local log
    for log in "$TMP"/*.log; do
        [[ -e $log ]] || continue
        if grep -q 'Sanitizer' "$log"; then
            fail "$(basename "$log"): sanitizer report: $(grep -A 20 'Sanitizer' "$log" | head -c 3000)"
        fi
    done
}

dump_logs () {
    local log
    for log in "$TMP"/*.log; do
        [[ -e $log ]] || continue
        echo "---- $(basename "$log") (last 40 lines)" >&2
        tail -n 40 "$log" >&2
    done
}

#  finish: stop what runs, check logs, exit 0 or 1
finish () {
    local name
    for name in "${!PID[@]}"; do
        [[ $name == broker ]] || stop "$name"
    done
    [[ -z ${PID[broker]:-} ]] || stop broker
    check_logs
    if ((FAILURES)); then
        dump_logs
        echo "$FAILURES failure(s)" >&2
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

#  ---------------------------------------------------------------------
#  Maps in the background, so a test can act on the network meanwhile

#  start_map NAME FUNCTION INPUT: `zhive map FUNCTION` on the client host,
#  results in $TMP/NAME.out, stderr in $TMP/NAME.log; sets MAP_START
start_map () {
    MAP_START=$(now_ms)
    ip netns exec "$(ns cl)" "$ZHIVE_BIN/zhive" --broker "$CLIENT_EP" map "$2" --quiet \
        <"$3" >"$TMP/$1.out" 2>"$TMP/$1.log" &
    PID[$1]=$!
}

#  map_running NAME: true while the map runs
map_running () { kill -0 "${PID[$1]}" 2>/dev/null; }

#  end_map NAME: wait for it (at most $LIMIT s from its start), set MAP_RC
#  and MAP_MS (its wall time)
end_map () {
    local name=$1
    while map_running "$name" && (($(now_ms) - MAP_START < LIMIT * 1000)); do
        sleep 0.05
    done
    if map_running "$name"; then
        fail "map $name: still running after $LIMIT s"
        kill -KILL "${PID[$name]}" 2>/dev/null || true
    fi
    MAP_RC=0
    wait "${PID[$name]}" || MAP_RC=$?
    MAP_MS=$(($(now_ms) - MAP_START))
    unset "PID[$name]"
}

#  check_map NAME EXPECTED: exit status 0 and exactly the expected lines
check_map () {
    local name=$1 expected=$2
    [[ $MAP_RC == 0 ]] || fail "map $name: exit status $MAP_RC: $(head -c 1000 "$TMP/$name.log")"
    if ! cmp -s "$expected" "$TMP/$name.out"; then
        fail "map $name: $(wc -l <"$TMP/$name.out") results, not the $(wc -l <"$expected") expected in order: $(diff "$expected" "$TMP/$name.out" | head -5 | tr '\n' ' ')"
    fi
}
