#!/usr/bin/env bash
#  test_prometheus.sh - a real Prometheus scrapes a real zhive-broker
#
#  A zhive-broker with --http 127.0.0.1:0 and a Bearer token
#  (ZHIVE_HTTP_TOKEN), two zhive-workers with the examples plugin, and
#  Prometheus (Debian's package) scraping the broker every second with the
#  token from a credentials_file. A map of sleep tasks, failing tasks and a
#  task for a function nobody offers go through the zhive CLI; then
#  Prometheus's query API must show what happened: the target up, the exact
#  counts by outcome, both workers ready, a sane median task duration, and
#  the query the KEDA ScaledObject in deploy/kubernetes/components/keda scales on. A
#  scrape taken during the map passes `promtool check metrics`.
#
#  Needs ZHIVE_BIN and ZHIVE_PLUGIN (ctest sets both), python3 (and its
#  yaml module, for the ScaledObject's query), prometheus and promtool;
#  without the last two it prints "SKIP: ..." and exits 77. Only 127.0.0.1
#  and kernel-chosen free ports; every process started is killed on exit;
#  every wait is bounded.
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"
for program in prometheus promtool; do
    if ! command -v "$program" >/dev/null; then
        echo "SKIP: $program is not installed (Debian's package prometheus; .ci/install-deps installs it)"
        exit 77
    fi
done
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(dirname "$HERE")
ZHIVE="$ZHIVE_BIN/zhive"
Q=(python3 "$HERE/prom_query.py")
LIMIT=120                               #  seconds any one command may take
N=240                                   #  sleep tasks in the map
FAILS=3                                 #  failing tasks

TMP=$(mktemp -d)
PIDS=()                                 #  background processes to kill on exit
cleanup () {
    kill_pids
    rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tests/lib.sh
source "$HERE/lib.sh"

#  finish: reports, exits 1 if any check failed
finish () {
    if ((FAILURES)); then
        echo "$FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all Prometheus checks passed"
    exit 0
}

#  logs NAME...: the last lines of the named logs, for a failure message
logs () {
    local name
    for name in "$@"; do
        echo "--- $name"
        tail -n 20 "$TMP/$name.log" 2>/dev/null || true
    done
}

#  The broker: the token only in its environment (out of ps), a short
#  unknown-function timeout so that the task for nobody ends quickly
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/token"
chmod 600 "$TMP/token"
read -r WPORT CPORT PPORT < <(free_ports 3)
: >"$TMP/broker.out"                    #  there before the broker's shell opens it
ZHIVE_HTTP_TOKEN=$(cat "$TMP/token") "$ZHIVE_BIN/zhive-broker" \
    --clients "tcp://127.0.0.1:$CPORT" --workers "tcp://127.0.0.1:$WPORT" \
    --http 127.0.0.1:0 --unknown-function-timeout 1000 -v >"$TMP/broker.out" 2>"$TMP/broker.log" &
PIDS+=($!)
METRICS=""
for _ in $(seq 1 200); do
    METRICS=$(sed -n 's/^zhive-broker: .*, metrics \(http:[^ ,]*\/metrics\)\(,.*\)\{0,1\}$/\1/p' "$TMP/broker.out" || true)
    [[ -n "$METRICS" ]] && break
    sleep 0.1
done
if [[ -z "$METRICS" ]]; then
    fail "the broker printed no metrics endpoint: $(cat "$TMP/broker.out") $(logs broker)"
    finish
fi
HOSTPORT=${METRICS#http://}
HOSTPORT=${HOSTPORT%/metrics}
echo "broker: clients $CPORT, workers $WPORT, http $HOSTPORT"

for name in wA wB; do
    "$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$WPORT" --load "$ZHIVE_PLUGIN" \
        --concurrency 4 --name "prom-$name" 2>"$TMP/worker-$name.log" &
    PIDS+=($!)
done
B=(--broker "tcp://127.0.0.1:$CPORT")

#  Without the token the broker refuses; with it, both workers show up
run "${Q[@]}" get "$METRICS"
expect_rc 0 "GET /metrics without the token"
[[ $(head -n 1 "$TMP/out") == "401 "* ]] || fail "GET /metrics without the token: $(head -n 1 "$TMP/out"), expected 401"
ready=""
for _ in $(seq 1 100); do
    "${Q[@]}" get "http://$HOSTPORT/api/status" "$TMP/token" >"$TMP/status" 2>/dev/null || true
    ready=$(tail -n +2 "$TMP/status" | python3 -c 'import json, sys; print(json.load(sys.stdin)["workers_ready"])' \
        2>/dev/null || true)
    [[ "$ready" == 2 ]] && break
    sleep 0.2
done
[[ "$ready" == 2 ]] || fail "workers_ready in /api/status is '$ready' after 20 s, expected 2 $(logs worker-wA worker-wB)"

#  Prometheus: its own config, storage and port, scraping every second
cat >"$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: zhive
    metrics_path: /metrics
    authorization:
      credentials_file: $TMP/token
    static_configs:
      - targets: ["$HOSTPORT"]
        #  What Kubernetes service discovery adds (the ScaledObject's matcher)
        labels:
          namespace: zhive
EOF
run promtool check config "$TMP/prometheus.yml"
expect_rc 0 "promtool check config"
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" >"$TMP/prometheus.log" 2>&1 &
PIDS+=($!)
PROM="http://127.0.0.1:$PPORT"
run "${Q[@]}" ready "$PROM" 60
expect_rc 0 "Prometheus ready"
if [[ "$RC" != 0 ]]; then
    logs prometheus
    finish
fi
run "${Q[@]}" wait "$PROM" 'up{job="zhive"}' == 1 60
expect_rc 0 "up{job=\"zhive\"} == 1"

#  The map, in the background: N sleep tasks of 100..400 ms on 2 x 4 slots
for i in $(seq 1 "$N"); do
    echo $((100 + (i * 37) % 301))
done >"$TMP/in"
timeout -k 5 "$LIMIT" "$ZHIVE" "${B[@]}" -q map sleep <"$TMP/in" >"$TMP/map.out" 2>"$TMP/map.err" &
MAP=$!
PIDS+=("$MAP")
START=$(date +%s%N)

#  A scrape during the map (some tasks running) through Prometheus's parser
during=""
for _ in $(seq 1 200); do
    "${Q[@]}" get "$METRICS" "$TMP/token" >"$TMP/scrape" 2>/dev/null || true
    if grep -qE '^zhive_tasks_running\{function="sleep"\} [1-9]' "$TMP/scrape"; then
        during=1
        break
    fi
    kill -0 "$MAP" 2>/dev/null || break
    sleep 0.1
done
if [[ -n "$during" ]]; then
    read -r status BYTES_DURING < <(head -n 1 "$TMP/scrape")
    [[ "$status" == 200 ]] || fail "scrape during the map: HTTP $status"
    tail -n +2 "$TMP/scrape" >"$TMP/metrics.txt"
    run promtool check metrics <"$TMP/metrics.txt"
    expect_rc 0 "promtool check metrics on a scrape during the map"
    [[ "$RC" == 0 ]] || cat "$TMP/out" "$TMP/err" >&2
else
    fail "no scrape during the map showed a running sleep task"
fi

MAP_RC=0
wait "$MAP" || MAP_RC=$?
MAP_MS=$((($(date +%s%N) - START) / 1000000))
[[ "$MAP_RC" == 0 ]] || fail "map: exit status $MAP_RC: $(head -c 2000 "$TMP/map.err")"
if ! cmp -s "$TMP/in" "$TMP/map.out"; then
    fail "map: $(wc -l <"$TMP/map.out") results, not the $N inputs in order"
fi

#  Failing tasks, and one for a function no worker offers
for _ in $(seq 1 "$FAILS"); do
    run "$ZHIVE" "${B[@]}" call fail '["on purpose"]'
    expect_rc 1 "call fail"
    expect_err "error: ExampleError: on purpose" "call fail"
done
run "$ZHIVE" "${B[@]}" --timeout 20000 call nosuch '[]'
expect_rc 1 "call nosuch"
expect_err "UnknownFunction" "call nosuch"

#  What Prometheus saw (each wait at most 30 s: scrapes are every second)
run "${Q[@]}" wait "$PROM" 'zhive_tasks_total{job="zhive",function="sleep",outcome="ok"}' == "$N" 30
expect_rc 0 "sleep ok == $N"
run "${Q[@]}" wait "$PROM" 'sum(zhive_tasks_total{job="zhive",function="sleep",outcome!="ok"})' == 0 30
expect_rc 0 "sleep: no other outcome"
run "${Q[@]}" wait "$PROM" 'zhive_tasks_total{job="zhive",function="fail",outcome="error"}' == "$FAILS" 30
expect_rc 0 "fail error == $FAILS"
run "${Q[@]}" wait "$PROM" 'sum(zhive_tasks_total{job="zhive",outcome="unknown_function"})' == 1 30
expect_rc 0 "unknown_function == 1"
run "${Q[@]}" wait "$PROM" 'zhive_workers{job="zhive",state="ready"}' == 2 30
expect_rc 0 "workers ready == 2"
run "${Q[@]}" wait "$PROM" 'zhive_worker_slots{job="zhive",state="free"}' == 8 30
expect_rc 0 "free slots == 8 after the map"

#  Every sleep task took at least 100 ms, at most 400 ms plus the time a
#  prefetched task waits on its worker: the median is above 0.1 s, and
#  well under 10 s
Q50='histogram_quantile(0.5, sum by (le) (rate(zhive_task_duration_seconds_bucket{job="zhive",function="sleep"}[1m])))'
run "${Q[@]}" range "$PROM" "$Q50" 0.1 10 30
expect_rc 0 "median sleep duration in [0.1, 10] s"
P50=$(cat "$TMP/out")
run "${Q[@]}" range "$PROM" 'histogram_quantile(0.5, sum by (le) (rate(zhive_task_wait_seconds_bucket{job="zhive",function="sleep"}[1m])))' 0 60 30
expect_rc 0 "median sleep wait in [0, 60] s"
W50=$(cat "$TMP/out")

#  The KEDA ScaledObject's own query (deploy/kubernetes/components/keda): at its
#  highest during the map it counted at least the 8 busy slots; now 0
KEDA=$(python3 -c '
import sys, yaml
for doc in yaml.safe_load_all(open(sys.argv[1])):
    for trigger in doc["spec"]["triggers"]:
        if trigger["type"] == "prometheus":
            print(" ".join(trigger["metadata"]["query"].split()))
' "$SRC/deploy/kubernetes/components/keda/scaledobject.yaml") || fail "cannot read the ScaledObject's query"
if [[ -n "$KEDA" ]]; then
    run "${Q[@]}" wait "$PROM" "max_over_time(($KEDA)[5m:1s])" '>=' 8 30
    expect_rc 0 "KEDA query at its highest during the map >= 8"
    KEDA_MAX=$(cat "$TMP/out")
    run "${Q[@]}" wait "$PROM" "$KEDA" == 0 30
    expect_rc 0 "KEDA query == 0 after the map"
fi

#  The target as Prometheus sees it
run "${Q[@]}" targets "$PROM"
expect_rc 0 "targets"
python3 -c '
import json, sys
targets = [json.loads(line) for line in open(sys.argv[1])]
assert len(targets) == 1, targets
target = targets[0]
assert target["health"] == "up", target
assert target["labels"]["job"] == "zhive", target
assert target["scrapeUrl"] == sys.argv[2], target
assert target["lastError"] == "", target
print("%.3f" % (target["lastScrapeDuration"] * 1000))
' "$TMP/out" "$METRICS" >"$TMP/scrape_ms" || fail "targets: $(cat "$TMP/out")"
"${Q[@]}" get "$METRICS" "$TMP/token" >"$TMP/scrape" 2>/dev/null || true
BYTES_AFTER=$(head -n 1 "$TMP/scrape" | cut -d' ' -f2)
run "${Q[@]}" wait "$PROM" 'scrape_samples_scraped{job="zhive"}' '>' 0 10
SAMPLES=$(cat "$TMP/out")

echo "figure: prometheus_scrape_ms=$(cat "$TMP/scrape_ms") (lastScrapeDuration, 1 s interval)"
echo "figure: metrics_bytes=${BYTES_DURING:-?} during the map, ${BYTES_AFTER:-?} after;" \
    "samples_scraped=$(printf '%.0f' "$SAMPLES" 2>/dev/null || echo "$SAMPLES")"
echo "figure: map of $N sleep tasks (100..400 ms, 2 workers x 4 slots) in ${MAP_MS} ms;" \
    "p50 duration=$(printf '%.3f' "$P50" 2>/dev/null || echo "$P50") s," \
    "p50 wait=$(printf '%.3f' "$W50" 2>/dev/null || echo "$W50") s," \
    "KEDA query max=$(printf '%.0f' "${KEDA_MAX:-0}" 2>/dev/null || echo "${KEDA_MAX:-?}")"
if ((FAILURES)); then
    logs broker worker-wA worker-wB prometheus
fi
finish
