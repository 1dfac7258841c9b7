#!/usr/bin/env bash
#  test_docker.sh - docker/Dockerfile built and docker/compose.yaml run for
#  real, with faults: a broker and three worker containers, a 10,000-task map
#  from the host CLI through the published port while a worker is killed,
#  crashes, or is cut off the network for 10 s; SIGTERM drains; the CURVE
#  compose file runs too. Every container, network and volume it makes is
#  removed on exit (`down -v` in a trap), also when it fails.
#
#  Needs ZHIVE_BIN (the build tree's bin/, for the host's zhive); ctest sets it.
#  Exits 77 (skipped) where `docker info` or docker-compose fails. Where the
#  base image debian:bookworm-slim is absent (no registry), docker/make-base
#  makes it from Debian's packages (root and debootstrap needed); where
#  containers cannot reach Debian's archive (or ZHIVE_DOCKER_OFFLINE=1), it
#  makes bases that hold the packages already. The image is built from the
#  working tree as docker/Dockerfile says, tagged zhive:test (so a second run
#  reuses every layer). Figures go to stdout as "figure: ...".
set -euo pipefail

# shellcheck source=tests/docker_lib.sh
source "$(dirname "$0")/docker_lib.sh"    #  ZHIVE_BIN, SRC, ZHIVE, LIMIT, tests/lib.sh
docker_require
command -v docker-compose >/dev/null || skip "docker-compose is not installed (.ci/install-deps installs it)"
TMP=$(mktemp -d)
PROJECTS=()                             #  compose projects to take down on exit
PROJECT="zhivetest$$"

#  ---------------------------------------------------------------------
#  compose PROJECT FILES... -- ARGS: docker-compose on the project, bounded
compose () {
    local project=$1 files=() f
    shift
    while [ "$1" != "--" ]; do
        files+=(-f "$SRC/docker/$1")
        shift
    done
    shift
    timeout -k 5 "$LIMIT" docker-compose --ansi never -p "$project" "${files[@]}" "$@"
}

cleanup () {
    local p
    kill_pids
    for p in "${PROJECTS[@]}"; do
        compose "$p" compose.yaml compose.curve.yaml -- down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

#  What a run killed past its traps (SIGKILL, a ctest timeout) left: projects
#  zhivetest<PID> whose process is gone are removed, containers and network
for p in $(docker ps -a --format '{{.Label "com.docker.compose.project"}}' | grep -E '^zhivetest[0-9]+c?$' | sort -u); do
    pid=${p#zhivetest}
    pid=${pid%c}
    kill -0 "$pid" 2>/dev/null && continue
    echo "removing what an earlier run left: project $p"
    docker ps -aq --filter "label=com.docker.compose.project=$p" | xargs -r docker rm -f >/dev/null || true
    docker network rm "${p}_default" >/dev/null 2>&1 || true
done

#  ---------------------------------------------------------------------
#  The image: bases first (docker/make-base where absent), then docker/Dockerfile
docker_image

#  ---------------------------------------------------------------------
healthy () {
    [ "$(docker inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ]
}
running () {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]
}
restarted () {
    running "$1" && [ "$(docker inspect -f '{{.RestartCount}}' "$1")" -ge 1 ]
}

#  ---------------------------------------------------------------------
echo "--- up: a broker and three workers"
pick_ports
PROJECTS+=("$PROJECT")
t0=$(now_ms)
compose "$PROJECT" compose.yaml -- up -d --no-build --scale worker=3 >"$TMP/up.log" 2>&1 ||
    { cat "$TMP/up.log" >&2; fail "compose up"; finish; }
broker=$(compose "$PROJECT" compose.yaml -- ps -q broker)
wait_for 60 "broker healthy" healthy "$broker"
echo "figure: up to a healthy broker in $(($(now_ms) - t0)) ms"
wait_for 60 "three workers on three hosts" status_hosts 3
echo "figure: up to a healthy pool of 3 workers in $(($(now_ms) - t0)) ms"
mapfile -t workers < <(compose "$PROJECT" compose.yaml -- ps -q worker)
[ "${#workers[@]}" -eq 3 ] || fail "compose ps lists ${#workers[@]} workers, expected 3"
[ "$FAILURES" -eq 0 ] || { cat "$TMP/status" >&2; finish; }
docker port "$broker" 5555 | grep -qx "127.0.0.1:$ZHIVE_CLIENT_PORT" ||
    fail "client port not published on 127.0.0.1 only: $(docker port "$broker" 5555)"

#  10,000 sleep tasks of 50..149 ms (a result is its input): about 20 s on 3 x 16
seq 0 9999 | awk '{ print 50 + $1 % 100 }' >"$TMP/map"

echo "--- 10,000 tasks; one worker container killed, another one's process killed"
t0=$(now_ms)
start_map "$TMP/map" sleep
wait_for 60 "first 2000 results" lines_at_least "$TMP/map.out" 2000
docker kill "${workers[0]}" >/dev/null || fail "docker kill"
#  A crash: SIGKILL of the worker process (the child of the container's init)
init_pid=$(docker inspect -f '{{.State.Pid}}' "${workers[1]}")
child=$(cat "/proc/$init_pid/task/$init_pid/children" 2>/dev/null | awk '{ print $1 }')
[ -n "$child" ] && kill -KILL "$child" || fail "no worker process in ${workers[1]}"
end_map "$TMP/map" "map through a kill and a crash"
echo "figure: 10,000 tasks through a docker kill and a crash in $(($(now_ms) - t0)) ms"
wait_for 60 "crashed worker restarted by its restart policy" restarted "${workers[1]}"
#  Docker counts `docker kill` as a manual stop: no restart policy restarts it
[ "$(docker inspect -f '{{.State.Running}} {{.RestartCount}}' "${workers[0]}")" = "false 0" ] ||
    echo "note: the docker-killed container was restarted by Docker"
for w in 0 1; do
    lost=$(docker logs "$broker" 2>&1 | grep "worker '${workers[$w]:0:12}:[0-9]*' .*lost" | tail -n 1 || true)
    [ -n "$lost" ] || fail "the broker did not log worker ${workers[$w]:0:12} lost"
    echo "figure: broker: ${lost#* lost: }"
done
docker start "${workers[0]}" >/dev/null || fail "docker start of the killed worker"
wait_for 60 "three workers again after the kill and the crash" status_hosts 3

echo "--- 10,000 tasks; one worker off the network for 10 s"
t0=$(now_ms)
start_map "$TMP/map" sleep
wait_for 60 "first 2000 results" lines_at_least "$TMP/map.out" 2000
network="${PROJECT}_default"
docker network disconnect "$network" "${workers[2]}" || fail "network disconnect"
sleep 10                                #  the partition itself, not a wait for a condition
docker network connect "$network" "${workers[2]}" || fail "network connect"
end_map "$TMP/map" "map through a 10 s partition"
echo "figure: 10,000 tasks through a 10 s partition in $(($(now_ms) - t0)) ms"
lost=$(docker logs "$broker" 2>&1 | grep "worker '${workers[2]:0:12}:[0-9]*' .*lost" | tail -n 1 || true)
[ -n "$lost" ] || fail "the broker did not log the partitioned worker lost"
echo "figure: broker: ${lost#* lost: }"
wait_for 60 "three workers again after the partition" status_hosts 3

echo "--- stop drains: SIGTERM while tasks run, exit status 0"
seq 1 200 | awk '{ print 1000 + $1 }' >"$TMP/drain"
start_map "$TMP/drain" sleep
wait_for 30 "first results of the drain map" lines_at_least "$TMP/drain.out" 1
t0=$(now_ms)
compose "$PROJECT" compose.yaml -- stop worker >"$TMP/stop.log" 2>&1 || fail "compose stop worker"
echo "figure: compose stop of 3 busy workers in $(($(now_ms) - t0)) ms"
for w in "${workers[@]}"; do
    rc=$(docker inspect -f '{{.State.ExitCode}}' "$w")
    [ "$rc" = 0 ] || fail "worker ${w:0:12} exited $rc on SIGTERM, expected 0"
done
compose "$PROJECT" compose.yaml -- start worker >/dev/null 2>&1 || fail "compose start worker"
end_map "$TMP/drain" "map through a stop and start of every worker"
compose "$PROJECT" compose.yaml -- stop >/dev/null 2>&1 || fail "compose stop"
rc=$(docker inspect -f '{{.State.ExitCode}}' "$broker")
[ "$rc" = 0 ] || fail "broker exited $rc on SIGTERM, expected 0"

echo "--- down -v"
compose "$PROJECT" compose.yaml -- down -v >/dev/null 2>&1 || fail "compose down -v"
left=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "containers left after down -v: $left"
! docker network inspect "$network" >/dev/null 2>&1 || fail "network $network left after down -v"

#  ---------------------------------------------------------------------
echo "--- CURVE: compose.yaml + compose.curve.yaml"
curve_keys
pick_ports
PROJECTS+=("${PROJECT}c")
compose "${PROJECT}c" compose.yaml compose.curve.yaml -- up -d --no-build --scale worker=2 >"$TMP/up.log" 2>&1 ||
    { cat "$TMP/up.log" >&2; fail "compose up (CURVE)"; finish; }
broker=$(compose "${PROJECT}c" compose.yaml compose.curve.yaml -- ps -q broker)
wait_for 60 "CURVE broker healthy" healthy "$broker"
CURVE_CLIENT=(--curve-secret "$TMP/client/client_secret" --broker-key "$ZHIVE_CURVE_DIR/broker")
wait_for 60 "two CURVE workers" status_hosts 2
seq 1 500 >"$TMP/curve.in"
sed 's/.*/[&]/' "$TMP/curve.in" >"$TMP/curve.want"
start_map "$TMP/curve.in" echo
end_map "$TMP/curve.in" "CURVE map" "$TMP/curve.want"
#  Without CURVE the broker does not answer
RC=0
timeout 20 "$ZHIVE" --broker "$BROKER" --timeout 1000 status >/dev/null 2>&1 || RC=$?
[ "$RC" -ne 0 ] || fail "a client without CURVE got an answer from the CURVE broker"
compose "${PROJECT}c" compose.yaml compose.curve.yaml -- down -v >/dev/null 2>&1 || fail "compose down -v (CURVE)"

finish
