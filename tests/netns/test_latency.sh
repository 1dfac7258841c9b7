#!/usr/bin/env bash
#  test_latency.sh - one worker host behind a slow link
#
#  Broker, workers on hosts wA and wB, client (see lib.sh). wB's link gets
#  20 ms of delay each way (netem on both ends of its veth: 40 ms round
#  trip). A map of 3000 `sleep` tasks (10..14 ms) must finish with every
#  result right and in order; thanks to credit the broker keeps several
#  tasks on the way to wB (in_flight > 1), so wB does far more than the one
#  task per round trip a stop-and-wait pool would give it.
#
#  Without sch_netem (tc: "Specified qdisc kind is unknown") the delay comes
#  from delay_relay.py, a TCP relay on wB that holds each chunk 20 ms each
#  way, and the line printed says so. Set ZHIVE_NETNS_NO_RELAY=1 to skip
#  instead.
#
#  Prints one line with the figures:
#    latency: mode=netem|relay delay=20ms/way total=S wA_done=N wB_done=N ...
source "$(dirname "$0")/lib.sh"

TASKS=3000
CONCURRENCY=8
DELAY_MS=20

netns_init
worker_b_ep=$WORKER_EP
if netns_have_netem; then
    mode=netem
    tc -n "$(ns wb)" qdisc add dev eth0 root netem delay "${DELAY_MS}ms"
    tc -n "$(ns sw)" qdisc add dev p-wb root netem delay "${DELAY_MS}ms"
elif [[ -n ${ZHIVE_NETNS_NO_RELAY:-} ]]; then
    skip "netem is not available (no sch_netem module): the latency case needs it"
else
    mode=relay
    echo "netem is not available (no sch_netem module): wB reaches the broker through" \
        "delay_relay.py, ${DELAY_MS} ms each way"
    netns_bg relay wb python3 "$NETNS_DIR/delay_relay.py" 5556 "$BROKER_ADDR" 5556 "$DELAY_MS"
    worker_b_ep=tcp://127.0.0.1:5556
fi

start_broker
start_worker worker_a wa wA --connect "$WORKER_EP" --concurrency "$CONCURRENCY"
start_worker worker_b wb wB --connect "$worker_b_ep" --concurrency "$CONCURRENCY"
wait_workers wA wB

awk -v n="$TASKS" 'BEGIN {for (i = 1; i <= n; i++) print 10 + i % 5}' >"$TMP/in"
start_map delayed sleep "$TMP/in"
wb_max_in_flight=0 samples=0 busy_samples=0
while map_running delayed; do
    in_flight=$(status_table | awk '$2 == "wB" {print $3}')
    if [[ -n $in_flight ]]; then
        samples=$((samples + 1))
        ((in_flight > 1)) && busy_samples=$((busy_samples + 1))
        ((in_flight > wb_max_in_flight)) && wb_max_in_flight=$in_flight
    fi
    sleep 0.1
done
end_map delayed
check_map delayed "$TMP/in"

table=$(status_table)
echo "status after the map (id host in_flight done):"
echo "$table"
wa_done=$(awk '$2 == "wA" {print $4}' <<<"$table")
wb_done=$(awk '$2 == "wB" {print $4}' <<<"$table")
((wb_max_in_flight > 1)) || fail "wB never had more than $wb_max_in_flight task in flight: credit does not cover the latency"
((${wb_done:-0} >= TASKS / 20)) || fail "wB did ${wb_done:-0} of $TASKS tasks: the slow link starves it"
((${wa_done:-0} + ${wb_done:-0} == TASKS)) || fail "workers answered $((wa_done + wb_done)) tasks, expected $TASKS"

#  Per-task cycle each worker saw (concurrency x time / tasks): sleep plus
#  the round trip. Stop-and-wait bound for wB: one task per (12 ms + RTT)
awk -v mode="$mode" -v d="$DELAY_MS" -v ms="$MAP_MS" -v a="$wa_done" -v b="$wb_done" \
    -v c="$CONCURRENCY" -v m="$wb_max_in_flight" -v bs="$busy_samples" -v s="$samples" 'BEGIN {
    printf "latency: mode=%s delay=%dms/way total=%.1fs wA_done=%d wB_done=%d wB_max_in_flight=%d", \
        mode, d, ms / 1000, a, b, m
    printf " wB_busy_samples=%d/%d wB_rate=%.0f/s stop_and_wait_bound=%.0f/s", \
        bs, s, b / (ms / 1000), 1000 / (12 + 2 * d)
    printf " cycle_wA=%.1fms cycle_wB=%.1fms\n", c * ms / a, c * ms / b
}'
finish
