#!/usr/bin/env bash
#  test_pool.sh - workers on two other hosts join a broker and share a map
#
#  Four network-namespace hosts (see lib.sh): the broker on 10.77.0.1, a
#  worker on host wA and one on host wB, the client on a fourth host. The
#  client maps fib over 400 numbers; every result must be right and in input
#  order, and `zhive status --json` must show one worker on each host, both
#  with tasks done.
source "$(dirname "$0")/lib.sh"

netns_init
start_broker
start_worker worker_a wa wA --connect "$WORKER_EP" --concurrency 4
start_worker worker_b wb wB --connect "$WORKER_EP" --concurrency 4
wait_workers wA wB

#  fib (15 + i % 11): enough work per task that both workers get some
seq 1 400 | awk '{print 15 + $1 % 11}' >"$TMP/in"
while read -r n; do
    a=0 b=1
    for ((k = 0; k < n; k++)); do
        t=$((a + b)) a=$b b=$t
    done
    echo "$a"
done <"$TMP/in" >"$TMP/expected"

start_map pool fib "$TMP/in"
end_map pool
check_map pool "$TMP/expected"

table=$(status_table)
echo "status after the map (id host in_flight done):"
echo "$table"
for host in wA wB; do
    count=$(awk -v h="$host" '$2 == h' <<<"$table" | wc -l)
    [[ $count == 1 ]] || fail "status shows $count workers on host $host, expected 1"
    done_count=$(awk -v h="$host" '$2 == h {print $4}' <<<"$table")
    ((${done_count:-0} > 0)) || fail "the worker on $host did no task of the map"
done
total=$(awk '{sum += $4} END {print sum + 0}' <<<"$table")
[[ $total == 400 ]] || fail "workers answered $total tasks, expected 400"
#  The broker log names each host too
grep -q "joined: host wA" "$TMP/broker.log" || fail "broker log has no join from host wA"
grep -q "joined: host wB" "$TMP/broker.log" || fail "broker log has no join from host wB"
echo "pool: 400 fib tasks over hosts wA and wB in ${MAP_MS} ms:" \
    "$(awk '{printf "%s done=%s ", $2, $4}' <<<"$table")"
finish
