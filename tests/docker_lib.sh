#!/usr/bin/env bash
#  tests/docker_lib.sh - what the Docker tests (test_docker.sh, test_swarm.sh)
#  share: the engine checks, the image built from the working tree, bounded
#  waits, free host ports and maps driven from the host's zhive.
#
#  Source it with ZHIVE_BIN set (the build tree's bin/; ctest sets it): it
#  sources tests/lib.sh and sets SRC (the checkout), ZHIVE (the host's zhive
#  CLI, which must exist) and LIMIT (seconds any one command may take, 120);
#  TMP (a scratch folder) must be set before its functions run. `skip` exits
#  77; a test ends with `finish`.
#
#  The image is ZHIVE_TEST_IMAGE (default zhive:test), built by docker_image as
#  docker/Dockerfile says: a second build, by the same test or the other one,
#  reuses every cached layer (seconds), so the image is made once.

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZHIVE="$ZHIVE_BIN/zhive"
[ -x "$ZHIVE" ] || { echo "FAIL: no zhive CLI at $ZHIVE (build the zhive-cli target)" >&2; exit 1; }
LIMIT=120                               #  seconds any one command may take
# shellcheck source=tests/lib.sh
source "$SRC/tests/lib.sh"

IMAGE=${ZHIVE_TEST_IMAGE:-zhive:test}
export ZHIVE_IMAGE=$IMAGE
PIDS=()                                 #  background processes to kill on exit
CURVE_CLIENT=()                         #  the host CLI's CURVE options, if any

skip () {
    echo "SKIP: $*"
    exit 77
}

#  docker_require: skips (77) where there is no docker command or engine
docker_require () {
    command -v docker >/dev/null || skip "no docker command"
    timeout 30 docker info >/dev/null 2>&1 || skip "docker info fails: no Docker engine reachable"
}

#  finish: reports, exits 1 if any check failed
finish () {
    if ((FAILURES)); then
        echo "$FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all ${TEST_WHAT:-docker} checks passed"
    exit 0
}

now_ms () {
    date +%s%3N
}

#  wait_for SECONDS WHAT CMD...: runs CMD every 0.2 s until it succeeds, at
#  most SECONDS; records a failure naming WHAT past that (returns 1)
wait_for () {
    local limit=$1 what=$2 deadline
    shift 2
    deadline=$(($(date +%s) + limit))
    until "$@"; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            fail "$what: not within ${limit}s"
            return 1
        fi
        sleep 0.2
    done
}


#  ---------------------------------------------------------------------
#  docker_image: the bases first (docker/make-base where absent), then
#  docker/Dockerfile, tagged $IMAGE; checks it runs as zhive and a call works.
#  Ends the test (finish) when the image cannot be made
docker_image () {
    local base_args=() deps t0
    echo "--- image"
    if [ "${ZHIVE_DOCKER_OFFLINE:-0}" != 1 ]; then
        bash "$SRC/docker/make-base" debian:bookworm-slim || fail "make-base debian:bookworm-slim"
        #  Can a container of the build reach Debian's archive (RUN apt-get)?
        if ! timeout 90 docker run --rm debian:bookworm-slim apt-get update >"$TMP/probe" 2>&1; then
            echo "containers cannot reach Debian's archive: bases with the packages inside"
            ZHIVE_DOCKER_OFFLINE=1
        fi
    fi
    if [ "${ZHIVE_DOCKER_OFFLINE:-0}" = 1 ]; then
        #  The builder base holds the packages docker/Dockerfile installs (install-deps
        #  --build), the runtime base zhive's libraries
        deps=$(bash "$SRC/.ci/install-deps" --list --build | paste -sd, -)
        bash "$SRC/docker/make-base" --include "$deps,python3" zhive-base:build || fail "make-base zhive-base:build"
        bash "$SRC/docker/make-base" --include libzmq5,libczmq4,libmsgpackc2,libjansson4 zhive-base:runtime ||
            fail "make-base zhive-base:runtime"
        base_args=(--build-arg ZHIVE_BUILD_BASE=zhive-base:build --build-arg ZHIVE_RUNTIME_BASE=zhive-base:runtime
                   --network none)
    fi
    [ "$FAILURES" -eq 0 ] || finish
    #  As users build it, from the root (BuildKit reads docker/Dockerfile.dockerignore,
    #  the classic builder the root .dockerignore: the same patterns)
    t0=$(now_ms)
    if ! (cd "$SRC" && timeout 1200 docker build -f docker/Dockerfile "${base_args[@]}" -t "$IMAGE" .) \
            >"$TMP/build.log" 2>&1; then
        tail -n 40 "$TMP/build.log" >&2
        fail "docker build -f docker/Dockerfile"
        finish
    fi
    echo "figure: image built in $(($(now_ms) - t0)) ms, size $(docker image inspect -f '{{.Size}}' "$IMAGE") bytes"
    [ "$(docker run --rm "$IMAGE" id -u)" = 10001 ] || fail "the image does not run as user zhive (10001)"
    docker run --rm "$IMAGE" zhive call echo '[42]' --local 1 --load /usr/local/lib/zhive/libzhive-examples.so \
        >"$TMP/out" 2>&1 || true
    expect_out "[42]" "a call on an embedded pool inside the image"
}

#  ---------------------------------------------------------------------
#  Free host ports for the published ones, checked free again right before use
ports_free () {
    python3 -c '
import socket, sys
for p in sys.argv[1:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(p)))
    s.close()' "$@" 2>/dev/null
}
#  pick_ports: ZHIVE_CLIENT_PORT and ZHIVE_WORKER_PORT (exported, what
#  compose.yaml publishes) free; BROKER the client address on the host
pick_ports () {
    local tries
    for tries in 1 2 3 4 5; do
        read -r ZHIVE_CLIENT_PORT ZHIVE_WORKER_PORT < <(free_ports 2)
        ports_free "$ZHIVE_CLIENT_PORT" "$ZHIVE_WORKER_PORT" && break
    done
    export ZHIVE_CLIENT_PORT ZHIVE_WORKER_PORT
    BROKER="tcp://127.0.0.1:$ZHIVE_CLIENT_PORT"
}

#  status_hosts N: the broker's status lists N workers on N distinct hosts
#  (ZHIVE_CMD, default the host's zhive, runs the CLI)
status_hosts () {
    timeout 10 "${ZHIVE_CMD[@]:-$ZHIVE}" --broker "$BROKER" --timeout 2000 "${CURVE_CLIENT[@]}" status \
        </dev/null >"$TMP/status" 2>&1 || return 1
    local rows
    rows=$(awk 'NR == 1 { next } NF == 0 { exit } { print $2 }' "$TMP/status")
    [ "$(grep -c . <<<"$rows")" -eq "$1" ] && [ "$(sort -u <<<"$rows" | grep -c .)" -eq "$1" ]
}
lines_at_least () {
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

#  start_map FILE FUNCTION: `zhive map` of FILE in the background, results in FILE.out
start_map () {
    rm -f "$1.out"
    timeout -k 5 300 "${ZHIVE_CMD[@]:-$ZHIVE}" --broker "$BROKER" "${CURVE_CLIENT[@]}" map "$2" <"$1" \
        >"$1.out" 2>"$1.err" &
    MAP_PID=$!
    PIDS+=("$MAP_PID")
}
#  end_map FILE NAME [WANT]: the map exits 0 with every result right and in
#  order: the lines of WANT (default FILE itself)
end_map () {
    local rc=0
    wait "$MAP_PID" || rc=$?
    [ "$rc" -eq 0 ] || fail "$2: map exit status $rc: $(head -c 1000 "$1.err")"
    cmp -s "${3:-$1}" "$1.out" ||
        fail "$2: results differ from the inputs ($(wc -l <"$1.out") lines of $(wc -l <"$1"))"
}

#  curve_keys: the CURVE compose files' keys, made with the host's zhive:
#  broker, worker and health (the health check's) in $ZHIVE_CURVE_DIR (=
#  $TMP/curve) with the worker's, the health check's and a client's public
#  keys in its allowed/; the client's pair and the broker's public key in
#  $TMP/client; all owned by the image's user (10001)
curve_keys () {
    export ZHIVE_CURVE_DIR="$TMP/curve"
    mkdir -p "$ZHIVE_CURVE_DIR/allowed" "$TMP/client"
    local k
    for k in broker worker health; do
        (cd "$ZHIVE_CURVE_DIR" && "$ZHIVE" keygen "$k" >/dev/null) || fail "keygen $k"
    done
    (cd "$TMP/client" && "$ZHIVE" keygen client >/dev/null) || fail "keygen client"
    cp "$ZHIVE_CURVE_DIR/worker" "$ZHIVE_CURVE_DIR/health" "$TMP/client/client" "$ZHIVE_CURVE_DIR/allowed/"
    cp "$ZHIVE_CURVE_DIR/broker" "$TMP/client/"
    chown -R 10001:10001 "$ZHIVE_CURVE_DIR" "$TMP/client"
}
