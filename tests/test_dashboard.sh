#!/usr/bin/env bash
#  test_dashboard.sh - the broker's dashboard (/) in a real browser
#
#  Starts a zhive-broker with --http 127.0.0.1:0 and two zhive-workers
#  loading the examples plugin, runs a map of `sleep` tasks in the
#  background and one failing task, and a second broker with a token and
#  a worker; then tests/dashboard_browser.py drives headless Chromium
#  (Debian's chromium, chromium-driver, python3-selenium) on both and
#  saves a screenshot to $ZHIVE_BUILD/dashboard.png. Exits 77 ("SKIP: ...")
#  when the browser, its driver or selenium is not installed.
#
#  Needs ZHIVE_BIN and ZHIVE_PLUGIN (ctest sets them, and ZHIVE_BUILD).
#  Only 127.0.0.1 and kernel-chosen free ports; every process started is
#  killed by its pid (the browser's whole process group) on exit.
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
: "${ZHIVE_PLUGIN:?set ZHIVE_PLUGIN to libzhive-examples.so}"
ZHIVE="$ZHIVE_BIN/zhive"
LIMIT=60                                #  seconds any one command may take
SCREENSHOT="${ZHIVE_BUILD:-$PWD}/dashboard.png"

CHROMIUM=$(command -v chromium || true)
CHROMEDRIVER=$(command -v chromedriver || true)
PYTHON=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import selenium' 2>/dev/null; then
        PYTHON=$(command -v "$candidate")
        break
    fi
done
if [[ -z "$CHROMIUM" || -z "$CHROMEDRIVER" || -z "$PYTHON" ]]; then
    echo "SKIP: needs chromium, chromedriver and python3 with selenium" \
        "(apt-get install chromium chromium-driver python3-selenium)"
    exit 77
fi

TMP=$(mktemp -d)
PIDS=()                                 #  background processes to kill on exit
BROWSER=""                              #  the browser script's process group
cleanup () {
    exec 2>/dev/null                    #  not the shell's "Killed" notices
    [[ -z "$BROWSER" ]] || kill -KILL -- "-$BROWSER" 2>/dev/null || true
    kill_pids
    rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/lib.sh"

#  http_endpoint LOG: the http://ADDR:PORT the broker printed in LOG, waiting 20 s at most
http_endpoint () {
    local log=$1 endpoint=""
    for _ in $(seq 200); do
        endpoint=$(grep -o 'metrics http://[0-9.]*:[0-9]*' "$log" 2>/dev/null | head -1 || true)
        [[ -z "$endpoint" ]] || break
        sleep 0.1
    done
    echo "${endpoint#metrics }"
}

#  start_broker NAME [ARGS...]: a broker on free ports; sets CLIENTS, WORKERS, HTTP
start_broker () {
    local name=$1
    shift
    read -r CLIENTS WORKERS < <(free_ports)
    "$ZHIVE_BIN/zhive-broker" --clients "tcp://127.0.0.1:$CLIENTS" \
        --workers "tcp://127.0.0.1:$WORKERS" --http 127.0.0.1:0 "$@" \
        >"$TMP/$name.log" 2>&1 &
    PIDS+=("$!")
    HTTP=$(http_endpoint "$TMP/$name.log")
    if [[ -z "$HTTP" ]]; then
        echo "FAIL: $name printed no HTTP endpoint: $(head -c 2000 "$TMP/$name.log")" >&2
        exit 1
    fi
}

#  start_worker NAME: a worker of the last broker started
start_worker () {
    "$ZHIVE_BIN/zhive-worker" --connect "tcp://127.0.0.1:$WORKERS" --load "$ZHIVE_PLUGIN" \
        --concurrency 2 --name "$1" 2>"$TMP/$1.log" &
    PIDS+=("$!")
}

echo "--- a broker, two workers, a map of sleep tasks and a failing task"
start_broker live
LIVE_HTTP=$HTTP
LIVE=(--broker "tcp://127.0.0.1:$CLIENTS")
start_worker dash-a
start_worker dash-b
#  800 tasks of 150 ms on 4 slots: about 30 s of work, bounded by its timeout
seq 800 | awk '{print 150}' >"$TMP/sleeps"
timeout -k 5 180 "$ZHIVE" "${LIVE[@]}" --timeout 170000 map sleep <"$TMP/sleeps" \
    >"$TMP/map.out" 2>"$TMP/map.err" &
PIDS+=("$!")
ERROR_TEXT='dashboard <b>boom</b> & "quotes"'
run "$ZHIVE" "${LIVE[@]}" --timeout 20000 call fail "[\"$(sed 's/"/\\"/g' <<<"$ERROR_TEXT")\"]"
expect_rc 1 "call fail"
expect_err "ExampleError" "call fail"

echo "--- a broker with a token and a worker"
TOKEN="dash-$RANDOM$RANDOM"
ZHIVE_HTTP_TOKEN=$TOKEN start_broker token
TOKEN_HTTP=$HTTP
start_worker dash-token

#  The page is public; the data is not
"$PYTHON" - "$TOKEN_HTTP" <<'PY' || fail "the token broker's page and status: see above"
import sys, urllib.error, urllib.request
def code(path):
    try:
        return urllib.request.urlopen(sys.argv[1] + path, timeout=20).status
    except urllib.error.HTTPError as error:
        return error.code
got = (code("/"), code("/api/status"), code("/metrics"))
print("token broker without the token: / %d, /api/status %d, /metrics %d" % got)
sys.exit(0 if got == (200, 401, 401) else 1)
PY

echo "--- the browser: $LIVE_HTTP/ and $TOKEN_HTTP/"
rm -f "$SCREENSHOT"
host=$(hostname)
setsid "$PYTHON" "$(dirname "$0")/dashboard_browser.py" --url "$LIVE_HTTP/" \
    --token-url "$TOKEN_HTTP/" --token "$TOKEN" --hosts "$host,$host" --error "$ERROR_TEXT" \
    --screenshot "$SCREENSHOT" --profile "$TMP/profile" \
    --chromium "$CHROMIUM" --chromedriver "$CHROMEDRIVER" >"$TMP/browser.out" 2>"$TMP/browser.err" &
BROWSER=$!
status=0
for _ in $(seq 2400); do                #  4 minutes at most
    kill -0 "$BROWSER" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$BROWSER" 2>/dev/null; then
    fail "the browser script still runs after 4 minutes"
    kill -KILL -- "-$BROWSER" 2>/dev/null || true
fi
wait "$BROWSER" || status=$?
cat "$TMP/browser.out"
[[ "$status" == 0 ]] || fail "the browser checks failed ($status): $(tail -c 3000 "$TMP/browser.err")"
[[ -s "$SCREENSHOT" ]] || fail "no screenshot at $SCREENSHOT"

for log in "$TMP"/live.log "$TMP"/token.log; do
    if grep -q 'Sanitizer' "$log"; then
        fail "sanitizer report in $(basename "$log"): $(head -c 3000 "$log")"
    fi
done

if [[ "$FAILURES" -gt 0 ]]; then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "dashboard: all checks passed; screenshot $SCREENSHOT"
