#!/usr/bin/env bash
#  test_swarm.sh - docker/compose.yaml, the file users get, deployed for real
#  to a one-node Docker Swarm: `docker swarm init` on 127.0.0.1 (free ports),
#  `docker stack deploy`, `docker service scale` to 6 workers, a map, and a
#  rolling update of every worker (`docker service update --force`) in the
#  middle of a 30,000-task map: every result right and in order, every old
#  worker drained (the broker logs it), the redispatches counted. Everything
#  it made goes on exit, also when it fails: the stack (`docker stack rm`,
#  waited for until its containers and network are gone), the swarm (`docker
#  swarm leave --force`, only when this test made it) and docker_gwbridge
#  (only when the init made it).
#
#  Needs ZHIVE_BIN (the build tree's bin/, for the host's zhive); ctest sets it.
#  Exits 77 (skipped) where `docker info` fails, and where the engine is in
#  swarm mode already (a swarm this test did not make is left alone). The
#  image is built like tests/test_docker.sh builds it (tests/docker_lib.sh:
#  zhive:test, every layer cached after the first build).
#
#  The stack deployed is the file without its `ports:` (Swarm drops their
#  127.0.0.1 and publishes on every address of the host): the ports Swarm
#  would publish are checked in `docker stack config`'s rendering, and the
#  maps run in a CLI container on the stack's attachable overlay network.
#  Where the kernel has no IPVS (no /proc/net/ip_vs once the swarm runs),
#  services' virtual IPs do not route: the workers then connect to
#  tasks.broker (ZHIVE_BROKER_HOST). Figures go to stdout as "figure: ...".
set -euo pipefail

TEST_WHAT=swarm

# shellcheck source=tests/docker_lib.sh
source "$(dirname "$0")/docker_lib.sh"    #  ZHIVE_BIN, SRC, ZHIVE, LIMIT, tests/lib.sh
docker_require
timeout 30 docker stack --help >/dev/null 2>&1 || skip "this docker CLI has no 'docker stack'"

#  A swarm made by an earlier run of this test that was killed past its
#  traps carries its pid as a node label: that one is taken down, any other
#  swarm is left alone
swarm_state () {
    timeout 30 docker info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null
}
state=$(swarm_state)
if [ "$state" != inactive ]; then
    owner=$(timeout 30 docker node inspect self -f '{{index .Spec.Labels "zhive.test.pid"}}' 2>/dev/null || true)
    if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
        echo "removing what an earlier run (pid $owner) left: its swarm"
        for s in $(docker stack ls --format '{{.Name}}' | grep -E '^zhiveswarm[0-9]+$'); do
            timeout 60 docker stack rm "$s" >/dev/null 2>&1 || true
        done
        timeout 60 docker swarm leave --force >/dev/null 2>&1 || true
        state=$(swarm_state)
    fi
fi
[ "$state" = inactive ] ||
    skip "the engine is in swarm mode already (state '$state'), a swarm this test did not make: left alone"

TMP=$(mktemp -d)
STACK="zhiveswarm$$"
NETWORK="${STACK}_default"
CLI="${STACK}_cli"
INITED=0                                #  1 once this test made the swarm
DEPLOYED=0
GWBRIDGE_BEFORE=0
docker network inspect docker_gwbridge >/dev/null 2>&1 && GWBRIDGE_BEFORE=1

#  stack_gone: no container of the stack and no network of it is left
stack_gone () {
    [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ] &&
        ! docker network inspect "$NETWORK" >/dev/null 2>&1
}
#  stack_rm: `docker stack rm`, then waits (at most 90 s) until it is gone
stack_rm () {
    local deadline=$(($(date +%s) + 90))
    timeout -k 5 "$LIMIT" docker stack rm "$STACK" >/dev/null 2>&1 || true
    until stack_gone; do
        #  Docker 20.10 may leave the network behind for good when an endpoint
        #  (the CLI container's, just removed) lingered while stack rm tried
        #  to remove it: once no container of the stack is left, remove it
        if [ -z "$(docker ps -aq --filter "label=com.docker.stack.namespace=$STACK")" ]; then
            timeout 30 docker network rm "$NETWORK" >/dev/null 2>&1 || true
        fi
        if [ "$(date +%s)" -ge "$deadline" ]; then
            echo "left of stack $STACK:" \
                 "$(docker ps -a --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Names}} {{.Status}}')" \
                 "$(docker network inspect -f '{{.Name}}: {{len .Containers}} endpoint(s)' "$NETWORK" 2>&1)" >&2
            return 1
        fi
        sleep 0.5
    done
}

cleanup () {
    kill_pids
    docker rm -f "$CLI" >/dev/null 2>&1 || true
    if ((DEPLOYED)); then
        stack_rm || echo "warning: stack $STACK not gone within 90 s" >&2
    fi
    if ((INITED)); then
        timeout -k 5 "$LIMIT" docker swarm leave --force >/dev/null 2>&1 || true
        if ((!GWBRIDGE_BEFORE)); then
            timeout 30 docker network rm docker_gwbridge >/dev/null 2>&1 || true
        fi
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

#  ---------------------------------------------------------------------
#  The image (the cache of test_docker's build when it ran first)
docker_image

#  ---------------------------------------------------------------------
echo "--- swarm init on 127.0.0.1"
#  A free TCP port for the managers (2377 is the default) and a free UDP one
#  for VXLAN (4789 is the default; --data-path-port takes 1024..49151)
read -r SWARM_PORT < <(free_ports 1)
DATA_PORT=$(python3 -c '
import random, socket
for _ in range(50):
    p = random.randint(20000, 49151)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("0.0.0.0", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break')
t0=$(now_ms)
if ! timeout -k 5 "$LIMIT" docker swarm init --advertise-addr "127.0.0.1:$SWARM_PORT" \
        --listen-addr "127.0.0.1:$SWARM_PORT" --data-path-port "$DATA_PORT" >"$TMP/init.log" 2>&1; then
    cat "$TMP/init.log" >&2
    #  Another process may have made a swarm at the same moment: not ours to leave
    [ "$(swarm_state)" = inactive ] || skip "swarm init failed and the engine is in swarm mode now"
    fail "docker swarm init"
    finish
fi
INITED=1
timeout 30 docker node update --label-add "zhive.test.pid=$$" "$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null ||
    fail "docker node update --label-add"
echo "figure: swarm init in $(($(now_ms) - t0)) ms (manager on 127.0.0.1:$SWARM_PORT, VXLAN port $DATA_PORT)"
[ "$(docker info -f '{{.Swarm.NodeAddr}}')" = 127.0.0.1 ] || fail "the node's address is not 127.0.0.1"

#  Without IPVS, a service's virtual IP (the name `broker`) and the routing
#  mesh (published ports) do not route; tasks.broker is the broker task itself
if [ -e /proc/net/ip_vs ]; then
    echo "figure: IPVS present: workers connect to broker (the service's virtual IP)"
else
    export ZHIVE_BROKER_HOST=tasks.broker
    echo "figure: no IPVS in this kernel (/proc/net/ip_vs absent): workers connect to tasks.broker"
fi

#  ---------------------------------------------------------------------
echo "--- stack deploy -c docker/compose.yaml"
pick_ports
#  What Swarm would publish: ZHIVE_CLIENT_PORT and ZHIVE_WORKER_PORT are
#  substituted (ZHIVE_BIND is not: no host IP in Swarm), read from the stack
#  as `docker stack config` renders it
timeout -k 5 "$LIMIT" docker stack config -c "$SRC/docker/compose.yaml" >"$TMP/stack.yaml" 2>"$TMP/config.log" ||
    { cat "$TMP/config.log" >&2; fail "docker stack config"; finish; }
grep -q "ignoring IP-address (127.0.0.1:$ZHIVE_CLIENT_PORT:5555/tcp)" "$TMP/config.log" &&
    echo "figure: stack deploy ignores the ports' 127.0.0.1: it would publish on every address (routing mesh)"
published=$(python3 -c '
import sys, yaml
broker = yaml.safe_load(open(sys.argv[1]))["services"]["broker"]
print(" ".join(sorted("%s:%s" % (p["target"], p["published"]) for p in broker.get("ports", []))))
' "$TMP/stack.yaml") || fail "the rendered stack cannot be read"
[ "$published" = "5555:$ZHIVE_CLIENT_PORT 5556:$ZHIVE_WORKER_PORT" ] ||
    fail "the broker's published ports are '$published', expected ZHIVE_CLIENT_PORT and ZHIVE_WORKER_PORT"
#  The stack deployed is docker/compose.yaml without its ports: Swarm would
#  publish them on every address of this host, an open broker on the host's
#  networks for the test's minute. The test's traffic stays on the stack's
#  own overlay network, through a CLI container on it.
unpublished () {    #  unpublished FILE: FILE's services without ports, on stdout
    python3 -c '
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
for service in compose.get("services", {}).values():
    service.pop("ports", None)
yaml.safe_dump(compose, sys.stdout, sort_keys=False)
' "$1"
}
mkdir -p "$TMP/docker"
unpublished "$SRC/docker/compose.yaml" >"$TMP/docker/compose.yaml" || { fail "compose.yaml without ports"; finish; }
t_deploy=$(now_ms)
DEPLOYED=1
if ! timeout -k 5 "$LIMIT" docker stack deploy --detach=true -c "$TMP/docker/compose.yaml" "$STACK" \
        >"$TMP/deploy.log" 2>&1; then
    cat "$TMP/deploy.log" >&2
    fail "docker stack deploy"
    finish
fi
[ -z "$(docker service inspect -f '{{range .Spec.EndpointSpec.Ports}}{{.PublishedPort}} {{end}}' "${STACK}_broker")" ] ||
    fail "the test's broker publishes ports"
[ "$(docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' "${STACK}_worker")" = 2 ] ||
    fail "the worker service does not start with the 2 replicas of deploy.replicas"
#  The CLI container on the stack's network (attachable), once that exists
network_made () {
    docker network inspect "$NETWORK" >/dev/null 2>&1
}
wait_for 60 "network $NETWORK" network_made ||
    { cat "$TMP/deploy.log" >&2; finish; }
timeout -k 5 "$LIMIT" docker run -d --name "$CLI" --network "$NETWORK" --init "$IMAGE" sleep infinity \
    >/dev/null || { fail "a CLI container on the attachable network $NETWORK"; finish; }
ZHIVE_CMD=(docker exec -i "$CLI" zhive)
BROKER="tcp://${ZHIVE_BROKER_HOST:-broker}:5555"
wait_for 120 "two workers (deploy.replicas) on two hosts" status_hosts 2 || { cat "$TMP/status" >&2; finish; }
echo "figure: deploy to 2 workers in $(($(now_ms) - t_deploy)) ms"


echo "--- service scale worker=6"
t0=$(now_ms)
timeout -k 5 "$LIMIT" docker service scale --detach=true "${STACK}_worker=6" >/dev/null 2>&1 ||
    fail "docker service scale"
wait_for 120 "six workers on six hosts" status_hosts 6 || { cat "$TMP/status" >&2; finish; }
echo "figure: scale to 6 workers in $(($(now_ms) - t0)) ms; deploy to 6 workers in $(($(now_ms) - t_deploy)) ms"
hosts_before=$(awk 'NR == 1 { next } NF == 0 { exit } { print $2 }' "$TMP/status" | sort)

echo "--- a map of 3000 tasks on 6 workers"
seq 1 3000 | awk '{ print 50 + $1 % 100 }' >"$TMP/map"
t0=$(now_ms)
start_map "$TMP/map" sleep
end_map "$TMP/map" "map on 6 swarm workers"
echo "figure: 3000 sleep tasks (50-149 ms) on 6 workers in $(($(now_ms) - t0)) ms, results checked: $(wc -l <"$TMP/map.out")"

echo "--- rolling update of every worker in the middle of a 30,000-task map"
seq 1 30000 | awk '{ print 50 + $1 % 100 }' >"$TMP/big"
since=$(date +%s)
t_map=$(now_ms)
start_map "$TMP/big" sleep
wait_for 60 "first 2000 results" lines_at_least "$TMP/big.out" 2000
t0=$(now_ms)
timeout -k 5 "$LIMIT" docker service update --detach=true --force "${STACK}_worker" >"$TMP/update.log" 2>&1 ||
    { cat "$TMP/update.log" >&2; fail "docker service update --force"; }
update_done () {
    local s
    s=$(docker service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "${STACK}_worker")
    case "$s" in
    completed) return 0 ;;
    paused|rollback_*) fail "the rolling update ended '$s'"; return 0 ;;
    *) return 1 ;;
    esac
}
wait_for 240 "the rolling update completed" update_done
echo "figure: rolling update of 6 workers (2 at a time, start-first) in $(($(now_ms) - t0)) ms"
running=$(lines_at_least "$TMP/big.out" 30000 && echo "after" || echo "before")
end_map "$TMP/big" "map through a rolling update"
echo "figure: 30,000 tasks through the rolling update in $(($(now_ms) - t_map)) ms (the update ended $running" \
     "the map), results checked: $(wc -l <"$TMP/big.out") right and in order"
[ "$running" = before ] || fail "the map ended before the rolling update: it did not run in the middle of it"

#  Every old worker drained: the broker logged it, with the tasks it held.
#  A worker lost holding tasks is logged with their count ("N task(s) to
#  requeue"): those are the redispatches. A draining worker waits for the
#  broker's DRAINED (behind every task sent before it) before its BYE, so a
#  task in transit is run, not requeued; only a worker that got no DRAINED
#  within its bound (an older broker) may still leave one. Counted, not
#  required zero.
#  Each worker lost with tasks must have drained first: none was stopped
#  without draining (a SIGKILL past the grace period, a crash)
timeout 60 docker service logs --raw --since "$since" "${STACK}_broker" >"$TMP/broker.log" 2>&1 || true
drained=$(grep -c "is draining" "$TMP/broker.log" || true)
busy=$(grep "is draining" "$TMP/broker.log" | grep -vc ": 0 task(s) to finish" || true)
redispatched=$(sed -n 's/.* lost: .*; \([0-9]*\) task(s) to requeue$/\1/p' "$TMP/broker.log" | awk '{ n += $1 } END { print n + 0 }')
echo "figure: broker: $drained workers drained ($busy of them with tasks in flight), $redispatched tasks redispatched"
grep "is draining\|to requeue" "$TMP/broker.log" | head -n 3 | sed 's/^/figure: broker: /'
[ "$drained" -ge 6 ] || fail "the broker logged $drained workers draining, expected the 6 old ones"
for name in $(sed -n "s/.* worker '\([^']*\)' (pid [0-9]*) lost: .* task(s) to requeue$/\1/p" "$TMP/broker.log"); do
    grep -qF "worker '$name' is draining" "$TMP/broker.log" ||
        fail "worker '$name' was lost holding tasks without draining first"
done
wait_for 60 "six workers after the update" status_hosts 6
hosts_after=$(awk 'NR == 1 { next } NF == 0 { exit } { print $2 }' "$TMP/status" | sort)
[ -z "$(comm -12 <(echo "$hosts_before") <(echo "$hosts_after"))" ] ||
    fail "workers of before the update still run: $(comm -12 <(echo "$hosts_before") <(echo "$hosts_after"))"

echo "--- stack rm"
docker rm -f "$CLI" >/dev/null 2>&1 || true
t0=$(now_ms)
if stack_rm; then
    DEPLOYED=0
    echo "figure: stack rm until its containers and network are gone in $(($(now_ms) - t0)) ms"
else
    fail "the stack's containers or network are left 90 s after docker stack rm"
fi


#  ---------------------------------------------------------------------
#  CURVE: compose.yaml + compose.curve.yaml deployed as they are. The secret
#  keys become Swarm secrets (the stack's, gone with it); the broker's public
#  key and allowed/ are bind mounts, here on the one node
echo "--- CURVE: stack deploy -c compose.yaml -c compose.curve.yaml"
curve_keys
STACK="${STACK}c"
NETWORK="${STACK}_default"
CLI="${STACK}_cli"
pick_ports
DEPLOYED=1
t0=$(now_ms)
unpublished "$SRC/docker/compose.curve.yaml" >"$TMP/docker/compose.curve.yaml" ||
    { fail "compose.curve.yaml without ports"; finish; }
if ! timeout -k 5 "$LIMIT" docker stack deploy --detach=true -c "$TMP/docker/compose.yaml" \
        -c "$TMP/docker/compose.curve.yaml" "$STACK" >"$TMP/deploy.log" 2>&1; then
    cat "$TMP/deploy.log" >&2
    fail "docker stack deploy (CURVE)"
    finish
fi
wait_for 60 "network $NETWORK" network_made || finish
timeout -k 5 "$LIMIT" docker run -d --name "$CLI" --network "$NETWORK" --init -v "$TMP/client:/keys:ro" \
    "$IMAGE" sleep infinity >/dev/null || { fail "a CLI container on $NETWORK"; finish; }
ZHIVE_CMD=(docker exec -i "$CLI" zhive)
BROKER="tcp://${ZHIVE_BROKER_HOST:-broker}:5555"
CURVE_CLIENT=(--curve-secret /keys/client_secret --broker-key /keys/broker)
wait_for 120 "two CURVE workers" status_hosts 2 || { cat "$TMP/status" >&2; finish; }
echo "figure: CURVE stack deploy to 2 workers in $(($(now_ms) - t0)) ms"
#  The broker's health check (a CURVE client with the health key) passes
broker_healthy () {
    docker ps --filter "label=com.docker.swarm.service.name=${STACK}_broker" --format '{{.Status}}' |
        grep -q '(healthy)'
}
wait_for 60 "CURVE broker healthy (its CURVE health check)" broker_healthy
seq 1 500 >"$TMP/curve.in"
sed 's/.*/[&]/' "$TMP/curve.in" >"$TMP/curve.want"
start_map "$TMP/curve.in" echo
end_map "$TMP/curve.in" "CURVE map" "$TMP/curve.want"
#  Without CURVE the broker does not answer
RC=0
timeout 20 "${ZHIVE_CMD[@]}" --broker "$BROKER" --timeout 1000 status </dev/null >/dev/null 2>&1 || RC=$?
[ "$RC" -ne 0 ] || fail "a client without CURVE got an answer from the CURVE broker"
docker rm -f "$CLI" >/dev/null 2>&1 || true
if stack_rm; then
    DEPLOYED=0
else
    fail "the CURVE stack's containers or network are left 90 s after docker stack rm"
fi
secrets=$(docker secret ls -q --filter "label=com.docker.stack.namespace=$STACK")
[ -z "$secrets" ] || fail "secrets of the CURVE stack left after stack rm: $secrets"

finish
