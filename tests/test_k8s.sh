#!/usr/bin/env bash
#  test_k8s.sh - .ci/check-k8s passes on deploy/kubernetes and fails on
#  copies of it with one thing broken each (a renamed flag or metric, a
#  Service that selects nothing, a wrong serviceName, scaleTargetRef, port,
#  uid, probe path, threshold, a flag in a component's patch)
#
#  Needs ZHIVE_BIN (ctest sets it) and python3 with its yaml module
#  (python3-yaml; "SKIP: ..." and 77 without it). The check starts a broker
#  and a worker on free 127.0.0.1 ports for a moment and stops them itself.
set -euo pipefail

: "${ZHIVE_BIN:?set ZHIVE_BIN to the folder holding zhive}"
if ! python3 -c 'import yaml' 2>/dev/null; then
    echo "SKIP: python3's yaml module is not installed (python3-yaml; .ci/install-deps installs it)"
    exit 77
fi
SRC=$(cd "$(dirname "$0")/.." && pwd)
CHECK=(python3 "$SRC/.ci/check-k8s" "$ZHIVE_BIN")
LIMIT=120
TMP=$(mktemp -d)
PIDS=()
cleanup () {
    rm -rf "$TMP"
}
trap cleanup EXIT
# shellcheck source=tests/lib.sh
source "$SRC/tests/lib.sh"

echo "--- the real manifests"
run "${CHECK[@]}" "$SRC/deploy/kubernetes"
expect_rc 0 "check-k8s on deploy/kubernetes"
cat "$TMP/out" "$TMP/err"

#  broken FILE OLD NEW EXPECTED: a copy with OLD replaced by NEW in FILE
#  (it must be there) must fail with EXPECTED in the report
broken () {
    local file=$1 old=$2 new=$3 expected=$4 copy="$TMP/copy"
    rm -rf "$copy"
    cp -r "$SRC/deploy/kubernetes" "$copy"
    if ! python3 -c '
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if old not in text:
    sys.exit("%s: %r is not there" % (path, old))
open(path, "w").write(text.replace(old, new))
' "$copy/$file" "$old" "$new"; then
        fail "mutation of $file: cannot apply"
        return 0
    fi
    run "${CHECK[@]}" "$copy"
    expect_rc 1 "check-k8s with $file: '$old' -> '$new'"
    expect_err "$expected" "check-k8s with $file: '$old' -> '$new'"
    echo "broken $file ('$old' -> '$new'): $(grep -m1 -F -- "$expected" "$TMP/err" || echo "NOT REPORTED")"
}

echo "--- broken copies"
broken base/worker.yaml '"--connect"' '"--connnect"' "zhive-worker has no flag --connnect"
broken base/broker.yaml '"--drain-timeout"' '"--drain-timeout-ms"' "zhive-broker has no flag --drain-timeout-ms"
broken components/keda/scaledobject.yaml 'sum(zhive_tasks_queued{' 'sum(zhive_tasks_queue{' \
    "metric zhive_tasks_queue is not in the broker's /metrics"
broken components/keda/scaledobject.yaml 'zhive_tasks_running{namespace="zhive"}' \
    'zhive_tasks_running{namespace="zhive",queue="x"}' "metric zhive_tasks_running has no label queue"
broken base/broker.yaml $'  clusterIP: None\n  selector:\n    app.kubernetes.io/name: zhive\n    app.kubernetes.io/component: broker' \
    $'  clusterIP: None\n  selector:\n    app.kubernetes.io/name: zhive\n    app.kubernetes.io/component: brokr' \
    "selects no workload's pods"
broken base/broker.yaml 'serviceName: zhive-broker' 'serviceName: zhive' "serviceName zhive is not headless"
broken components/keda/scaledobject.yaml '    name: zhive-worker' '    name: zhive-workers' \
    "scaleTargetRef Deployment zhive-workers names no resource"
broken base/broker.yaml 'containerPort: 5556' 'containerPort: 5557' "are not the ports in its args"
broken base/worker.yaml 'zhive-broker-0.zhive-broker:5556' 'zhive-broker-0.zhive-broker:5555' \
    "is not the broker's --workers port"
broken base/worker.yaml 'runAsUser: 10001' 'runAsUser: 1000' "the image's user is 10001:10001"
broken base/broker.yaml 'path: /metrics' 'path: /healthz' "GETs /healthz on port 9090"
broken components/keda/scaledobject.yaml 'threshold: "16"' 'threshold: "8"' \
    "threshold 8 is not the workers' --concurrency"
broken components/curve/kustomization.yaml '"--broker-key", "/etc/zhive/keys/broker"]' \
    '"--brokerkey", "/etc/zhive/keys/broker"]' "zhive-worker has no flag --brokerkey"
broken base/broker.yaml 'terminationGracePeriodSeconds: 40' 'terminationGracePeriodSeconds: 15' \
    "does not outlast --drain-timeout 20000 ms"
broken monitoring/servicemonitor.yaml '- port: metrics' '- port: metric' "endpoint port metric is not a port"
broken base/kustomization.yaml '  - worker.yaml' '' "no kustomization uses this file"

if ((FAILURES)); then
    echo "$FAILURES check(s) failed" >&2
    exit 1
fi
echo "check-k8s: passes on the manifests, fails on each broken copy"
