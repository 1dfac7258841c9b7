#!/usr/bin/env bash
#  test_curve_cli.sh - CURVE through the real programs: zhive keygen, then
#  zhive-broker --curve-secret/--curve-allow with local and remote workers,
#  zhive and zhive-worker with --curve-secret/--broker-key (and the
#  environment), refusals, and a reload on SIGHUP
#
#  Needs ZHIVE_BIN and ZHIVE_PLUGIN (ctest sets both). Every background
#  process is killed by its pid on exit; every foreground command runs under
#  `timeout`. Only 127.0.0.1 and kernel-chosen free ports.
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"
ZHIVE="$ZHIVE_BIN/zhive"
LIMIT=60                                #  seconds any one command may take

TMP=$(mktemp -d)
PIDS=()                                 #  background processes to kill on exit
trap 'kill_pids; rm -rf "$TMP"' EXIT
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

#  wait_for FILE TEXT: until FILE holds TEXT (10 s at most); 0 if it does
wait_for () {
    local waited=0
    until grep -qF -- "$2" "$1" 2>/dev/null; do
        ((waited < 100)) || return 1
        sleep 0.1
        waited=$((waited + 1))
    done
}

K="$TMP/keys"
mkdir -p "$K/allow"

echo "--- keygen"
run "$ZHIVE" keygen "$K/broker"
expect_rc 0 "keygen"
grep -qF "$K/broker_secret" "$TMP/out" || fail "keygen does not say where the secret key is"
[[ -f "$K/broker" && -f "$K/broker_secret" ]] || fail "keygen wrote no pair"
[[ $(stat -c %a "$K/broker_secret") == 600 ]] || fail "secret key mode $(stat -c %a "$K/broker_secret")"
grep -q 'secret-key' "$K/broker" && fail "the public file holds the secret key"
grep -q 'secret-key' "$K/broker_secret" || fail "the secret file holds no secret key"
cp "$K/broker" "$TMP/broker.before"
run "$ZHIVE" keygen "$K/broker"
expect_rc 2 "keygen over a pair" && expect_err "give --force" "keygen over a pair"
cmp -s "$K/broker" "$TMP/broker.before" || fail "keygen without --force replaced the key"
run "$ZHIVE" keygen --force "$K/broker"
expect_rc 0 "keygen --force"
cmp -s "$K/broker" "$TMP/broker.before" && fail "keygen --force kept the old key"
run "$ZHIVE" keygen
expect_rc 2 "keygen without NAME"
for name in worker client eve; do
    run "$ZHIVE" keygen "$K/$name"
    expect_rc 0 "keygen $name"
done
cp "$K/worker" "$K/client" "$K/allow/"

echo "--- usage errors"
run "$ZHIVE_BIN/zhive-broker" --curve-secret "$K/broker_secret"
expect_rc 2 "broker: secret without allow" && expect_err "--curve-allow DIR" "broker: secret only"
run "$ZHIVE_BIN/zhive-broker" --curve-allow "$K/allow"
expect_rc 2 "broker: allow without secret"
run "$ZHIVE_BIN/zhive-broker" --curve-secret "$K/broker" --curve-allow "$K/allow"
expect_rc 1 "broker: public file as secret" &&
    expect_err "has no secret key (give the _secret file)" "broker: public file as secret"
run "$ZHIVE_BIN/zhive-broker" --curve-secret "$K/nothing" --curve-allow "$K/allow"
expect_rc 1 "broker: missing certificate" && expect_err "cannot read certificate" "missing cert"
run "$ZHIVE_BIN/zhive-worker" --load "$ZHIVE_PLUGIN" --curve-secret "$K/worker_secret"
expect_rc 2 "worker: secret without broker key"
run "$ZHIVE" --curve-secret "$K/client_secret" status
expect_rc 2 "zhive: secret without broker key" && expect_err "--broker-key" "zhive: no broker key"
run "$ZHIVE" --curve-secret "$K/client" --broker-key "$K/broker" status
expect_rc 2 "zhive: public file as secret" && expect_err "give the _secret file" "zhive: public"

echo "--- a CURVE broker with a local and a remote worker"
read -r cport wport < <(free_ports)
CLIENTS="tcp://127.0.0.1:$cport"
"$ZHIVE_BIN/zhive-broker" --clients "$CLIENTS" --workers "tcp://127.0.0.1:$wport" \
    --curve-secret "$K/broker_secret" --curve-allow "$K/allow" \
    --local-workers 1 --load "$ZHIVE_PLUGIN" >"$TMP/broker.out" 2>"$TMP/broker.err" &
broker=$!
PIDS+=("$broker")
"$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$wport" --load "$ZHIVE_PLUGIN" \
    --curve-secret "$K/worker_secret" --broker-key "$K/broker" --name remote \
    >"$TMP/worker.out" 2>&1 &
worker=$!
PIDS+=("$worker")
CURVE=(--curve-secret "$K/client_secret" --broker-key "$K/broker")
workers=0
for _ in $(seq 100); do
    run "$ZHIVE" --broker "$CLIENTS" "${CURVE[@]}" --timeout 2000 status --json
    workers=$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["workers"]))' \
        <"$TMP/out" 2>/dev/null || echo 0)
    ((workers == 2)) && break
    sleep 0.1
done
((workers == 2)) || fail "the local and the remote worker did not both join: $workers"
grep -qF ", CURVE" "$TMP/broker.out" || fail "the broker does not say it runs CURVE"
grep -q '"id":"remote"' "$TMP/out" || fail "status does not show the remote worker"

run "$ZHIVE" --broker "$CLIENTS" "${CURVE[@]}" call echo '["ZHIVE-SECRET-PAYLOAD-1234"]'
expect_rc 0 "allowed client" && expect_out '["ZHIVE-SECRET-PAYLOAD-1234"]' "allowed client"
seq 1 25 >"$TMP/in"
run "$ZHIVE" --broker "$CLIENTS" "${CURVE[@]}" map fib <"$TMP/in"
expect_rc 0 "allowed map"
[[ $(wc -l <"$TMP/out") == 25 ]] || fail "map: $(wc -l <"$TMP/out") results, expected 25"
ZHIVE_BROKER="$CLIENTS" ZHIVE_CURVE_SECRET="$K/client_secret" ZHIVE_BROKER_KEY="$K/broker" \
    run "$ZHIVE" call echo '[7]'
expect_rc 0 "CURVE from the environment" && expect_out '[7]' "CURVE from the environment"

echo "--- refusals"
run "$ZHIVE" --broker "$CLIENTS" --timeout 1000 call echo '[1]'
expect_rc 3 "plain client" && expect_err "no broker answered" "plain client"
run "$ZHIVE" --broker "$CLIENTS" --timeout 1000 --curve-secret "$K/eve_secret" \
    --broker-key "$K/broker" call echo '[1]'
expect_rc 3 "unknown key" && expect_err "does the broker allow our key" "unknown key"
eve=$(sed -n 's/.*public-key = "\(.*\)"/\1/p' "$K/eve")
wait_for "$TMP/broker.err" "refused a connection from 127.0.0.1: key $eve" ||
    fail "the broker did not log eve's key: $(tail -c 1500 "$TMP/broker.err")"
wait_for "$TMP/broker.err" "refused a peer on the clients endpoint" ||
    fail "the broker did not log the plain client: $(cat "$TMP/broker.err")"
run "$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$wport" --load "$ZHIVE_PLUGIN" \
    --curve-secret "$K/eve_secret" --broker-key "$K/broker"
expect_rc 1 "unknown worker" && expect_err "refused this worker's CURVE key" "unknown worker"

echo "--- reload on SIGHUP"
cp "$K/eve" "$K/allow/"
kill -HUP "$broker"
wait_for "$TMP/broker.err" "reloaded 3 allowed key(s)" ||
    fail "no reload logged: $(tail -c 1500 "$TMP/broker.err")"
run "$ZHIVE" --broker "$CLIENTS" --curve-secret "$K/eve_secret" --broker-key "$K/broker" \
    call echo '["eve"]'
expect_rc 0 "eve after the reload" && expect_out '["eve"]' "eve after the reload"
kill -0 "$broker" 2>/dev/null || fail "SIGHUP ended the broker"

echo "--- stop"
kill -TERM "$worker" 2>/dev/null || true
kill -TERM "$broker" 2>/dev/null || true
for pid in "$worker" "$broker"; do
    status=0
    timeout 15 tail --pid="$pid" -f /dev/null || fail "process $pid did not stop"
    wait "$pid" || status=$?
    [[ "$status" == 0 ]] || fail "process $pid: exit status $status after SIGTERM"
done
grep -q 'Sanitizer' "$TMP/broker.err" "$TMP/worker.out" &&
    fail "sanitizer report: $(grep -h -A20 Sanitizer "$TMP/broker.err" "$TMP/worker.out" | head -c 3000)"

echo "--- a local pool with CURVE"
run "$ZHIVE" --local 1 --load "$ZHIVE_PLUGIN" --curve-secret "$K/client_secret" call echo '[3]'
expect_rc 0 "--local with CURVE" && expect_out '[3]' "--local with CURVE"

if ((FAILURES)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "all CURVE checks passed"
