#!/usr/bin/env bash
#  tests/lib.sh - helpers shared by the shell tests (source it after setting
#  TMP, a scratch folder, and LIMIT, the seconds any one command may take)
#
#  The expect_* helpers record a failure and go on (they always return 0,
#  so that `set -e` never stops a script half way); a script ends with
#  `finish`, which reports and sets the exit status.

FAILURES=0

#  The tests speak only to loopback and their own hosts and containers: no
#  HTTP proxy of the environment may carry a request (curl, Python's urllib,
#  Selenium, Prometheus and the docker CLI all honour these)
unset http_proxy https_proxy all_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY

fail () {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

#  run CMD...: runs it bounded by $LIMIT; sets RC, output in $TMP/out and $TMP/err
run () {
    RC=0
    timeout -k 5 "$LIMIT" "$@" >"$TMP/out" 2>"$TMP/err" || RC=$?
    #  A sanitizer build reports leaks and errors on stderr
    if grep -q 'Sanitizer' "$TMP/err"; then
        fail "$*: sanitizer report: $(head -c 3000 "$TMP/err")"
    fi
}

#  expect_rc CODE NAME: checks the last run's exit status
expect_rc () {
    if [[ "$RC" != "$1" ]]; then
        fail "$2: exit status $RC, expected $1; stderr: $(head -c 2000 "$TMP/err")"
    fi
}

#  expect_out TEXT NAME: checks the last run's stdout (whole)
expect_out () {
    local got
    got=$(cat "$TMP/out")
    if [[ "$got" != "$1" ]]; then
        fail "$2: stdout '$(head -c 500 <<<"$got")', expected '$1'"
    fi
}

#  expect_err PATTERN NAME: checks the last run's stderr holds a fixed string
expect_err () {
    if ! grep -qF -- "$1" "$TMP/err"; then
        fail "$2: stderr lacks '$1': $(head -c 2000 "$TMP/err")"
    fi
}

#  free_ports [N]: N (default 2) distinct free ports on 127.0.0.1, chosen by
#  the kernel, on one line
free_ports () {
    python3 -c '
import socket, sys
sockets = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))' "${1:-2}"
}

#  kill_pids: SIGKILL every pid in the array PIDS and its children first
#  (a `timeout CMD` dies without passing a SIGKILL on), for an EXIT trap
kill_pids () {
    local pid
    for pid in "${PIDS[@]}"; do
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
    done
}
