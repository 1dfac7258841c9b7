#!/usr/bin/env python3
"""prom_query.py - small HTTP helpers for tests/test_prometheus.sh

  prom_query.py wait PROM EXPR OP VALUE SECONDS
      polls PROM's /api/v1/query with EXPR every 0.5 s until its result is
      one sample whose value satisfies OP VALUE (OP: == >= > <= <), at most
      SECONDS; prints the last value (or "none") and exits 0 when it held, 1
      when time ran out (the last answer on stderr)
  prom_query.py range PROM EXPR LOW HIGH SECONDS
      the same until the one sample's value is a number in [LOW, HIGH]
  prom_query.py targets PROM
      prints /api/v1/targets' active targets, one JSON object a line
  prom_query.py get URL [TOKEN_FILE]
      GET URL (with Authorization: Bearer TOKEN when a token file is given);
      prints "STATUS BYTES" and writes the body to stdout's next lines
  prom_query.py ready PROM SECONDS
      waits until PROM's /-/ready answers 200

PROM is a base address, http://127.0.0.1:PORT. Every request has a 5 s
timeout; every wait is bounded by its SECONDS.
"""
import json
import math
import operator
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

OPS = {"==": operator.eq, ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def fetch(url, token=None):
    """GET url: (status, body bytes); status 0 and the reason when no answer"""
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error).encode()


def query(prom, expr):
    """One instant query: (value or None, the answer's text)"""
    status, body = fetch(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
    text = body.decode(errors="replace")
    if status != 200:
        return None, "HTTP %d: %s" % (status, text[:500])
    answer = json.loads(text)
    if answer.get("status") != "success":
        return None, text[:500]
    data = answer["data"]
    if data["resultType"] == "scalar":
        return float(data["result"][1]), text[:500]
    result = data["result"]
    if data["resultType"] != "vector" or len(result) != 1:
        return None, text[:500]
    return float(result[0]["value"][1]), text[:500]


def wait(prom, expr, check, seconds):
    end = time.monotonic() + seconds
    value, text = None, ""
    while True:
        value, text = query(prom, expr)
        if value is not None and not math.isnan(value) and check(value):
            print(value)
            return 0
        if time.monotonic() >= end:
            break
        time.sleep(0.5)
    print("none" if value is None else value)
    print("%s: after %g s the last answer was %s" % (expr, seconds, text), file=sys.stderr)
    return 1


def main(argv):
    if len(argv) >= 7 and argv[1] == "wait" and argv[4] in OPS:
        target = float(argv[5])
        return wait(argv[2], argv[3], lambda v: OPS[argv[4]](v, target), float(argv[6]))
    if len(argv) == 7 and argv[1] == "range":
        low, high = float(argv[4]), float(argv[5])
        return wait(argv[2], argv[3], lambda v: low <= v <= high, float(argv[6]))
    if len(argv) == 3 and argv[1] == "targets":
        status, body = fetch(argv[2] + "/api/v1/targets")
        if status != 200:
            print("targets: HTTP %d: %s" % (status, body[:500]), file=sys.stderr)
            return 1
        for target in json.loads(body)["data"]["activeTargets"]:
            print(json.dumps(target))
        return 0
    if len(argv) in (3, 4) and argv[1] == "get":
        token = None
        if len(argv) == 4:
            with open(argv[3]) as f:
                token = f.read().strip()
        status, body = fetch(argv[2], token)
        sys.stdout.write("%d %d\n" % (status, len(body)))
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        return 0
    if len(argv) == 4 and argv[1] == "ready":
        end = time.monotonic() + float(argv[3])
        while True:
            status, body = fetch(argv[2] + "/-/ready")
            if status == 200:
                return 0
            if time.monotonic() >= end:
                print("not ready after %s s: %d %s" % (argv[3], status, body[:300]), file=sys.stderr)
                return 1
            time.sleep(0.5)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
