#!/usr/bin/env python3
"""bench/cgsum.py - summarise a callgrind output file per task.

usage: cgsum.py CALLGRIND_OUT TASKS [TOP] [--minus CALLGRIND_OUT2]

With --minus, the second profile (the same program with fewer tasks) is subtracted first and
TASKS is the difference in tasks: what remains is the cost of the extra tasks alone. Prints,
per task: total instructions (Ir), Ir by shared object, the TOP functions by
exclusive Ir, and how often the allocator and the ZeroMQ entry points were called.
Reads the callgrind format itself: callgrind_annotate 3.19 puts the cost of calls made
before `callgrind_control -z` (calls=0) on the caller, which hides everything under clone.
"""
import collections
import os
import sys

COUNTED = ["malloc", "calloc", "realloc", "free", "zmq_msg_send", "zmq_msg_recv", "zmq_send",
           "zmq_recv", "zmq_poll", "zmq_msg_init", "zmq_msg_init_size", "zmq_msg_copy",
           "zmq_msg_move", "zmq_msg_close", "zmq_msg_size", "zmq_msg_data", "zmq_msg_more",
           "zmq_msg_get", "zmq_getsockopt", "zsock_resolve", "zsock_type", "getpid", "poll",
           "msgpack_unpack_next", "msgpack_zone_new", "zhive_proto_recv", "zhive_proto_send",
           "zhive_msgpack_skip", "zhive_pack_object", "zhive_result_new_value", "memcpy"]


def parse(path):
    names = {"fn": {}, "ob": {}}
    self_cost = collections.Counter()       # (ob, fn) -> exclusive Ir
    calls = collections.Counter()           # fn -> calls
    call_incl = collections.Counter()       # fn -> inclusive Ir over its call sites
    total = 0
    ob = fn = "?"
    cob = cfn = None
    after_calls = False

    def name(kind, value):
        value = value.strip()
        if value.startswith("("):
            end = value.index(")")
            key = value[1:end]
            rest = value[end + 1:].strip()
            if rest:
                names[kind][key] = rest
            return names[kind].get(key, "0x" + key)
        return value

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line or line[0] == "#":
                continue
            c = line[0]
            if c.isdigit() or c in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if after_calls:
                    call_incl[cfn] += cost
                    after_calls = False
                else:
                    self_cost[(ob, fn)] += cost
                    total += cost
                continue
            key, _, value = line.partition("=")
            if key == "fn":
                fn = name("fn", value)
                cob = None
            elif key == "ob":
                ob = name("ob", value)
            elif key == "cfn":
                cfn = name("fn", value)
            elif key == "cob":
                cob = name("ob", value)
            elif key == "calls":
                calls[cfn] += int(value.split()[0])
                after_calls = True
    return total, self_cost, calls, call_incl


def short_ob(ob):
    base = os.path.basename(ob)
    for prefix in ("libzhive-examples", "libzhive", "libczmq", "libzmq", "libc.so", "libmsgpack",
                   "libstdc++", "ld-linux", "zhive-broker", "zhive-worker", "zhive_bench"):
        if base.startswith(prefix):
            return prefix.rstrip(".so")
    return base


def minus(a, b):
    """Profile a minus profile b (counters subtracted)."""
    total = a[0] - b[0]
    parts = []
    for x, y in zip(a[1:], b[1:]):
        z = collections.Counter(x)
        z.subtract(y)
        parts.append(z)
    return (total, *parts)


def summary(profile, tasks, top=25, title=""):
    """The per-task summary as text."""
    total, self_cost, calls, call_incl = profile
    lines = []
    by_ob = collections.Counter()
    for (ob, fn), cost in self_cost.items():
        by_ob[short_ob(ob)] += cost
    lines.append(f"{title}{total:,} Ir for {tasks:,.0f} tasks = {total / tasks:,.0f} Ir/task")
    lines.append("by object: " + ", ".join(f"{ob} {cost / total * 100:.1f}%"
                                           for ob, cost in by_ob.most_common(6) if cost > 0))
    lines.append(f"top {top} functions by exclusive Ir:")
    lines.append(f"  {'Ir%':>6} {'Ir/task':>9}  function [object]")
    for (ob, fn), cost in self_cost.most_common(top):
        lines.append(f"  {cost / total * 100:6.2f} {cost / tasks:9,.0f}  {fn} [{short_ob(ob)}]")
    lines.append("calls per task (inclusive Ir per call):")
    for fn in COUNTED:
        if calls.get(fn, 0) > 0:
            per_call = call_incl[fn] / calls[fn]
            lines.append(f"  {fn:22} {calls[fn] / tasks:7.2f}  ({per_call:,.0f} Ir/call)")
    return "\n".join(lines)


def main():
    args = sys.argv[1:]
    other = None
    if "--minus" in args:
        at = args.index("--minus")
        other = args[at + 1]
        del args[at:at + 2]
    path, tasks = args[0], float(args[1])
    top = int(args[2]) if len(args) > 2 else 25
    profile = parse(path)
    if other:
        profile = minus(profile, parse(other))
    print(summary(profile, tasks, top, f"{os.path.basename(path)}: "))


if __name__ == "__main__":
    main()
