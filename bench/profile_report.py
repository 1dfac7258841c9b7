#!/usr/bin/env python3
"""bench/profile_report.py - summarise what bench/profile collected.

usage: profile_report.py PROFILE_DIR      (prints Markdown)
"""
import collections
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgsum  # noqa: E402

FIELDS = ("malloc", "calloc", "realloc", "free", "bytes")


def params(prof):
    result = {}
    with open(os.path.join(prof, "params.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            result[key] = value
    return result


# --- allocations ------------------------------------------------------------------------------

def snapshots(path):
    """{snap: {(tid, comm): {field: count}}} from one malloc_count file."""
    snaps = collections.defaultdict(dict)
    with open(path, encoding="utf-8") as f:
        for line in f:
            kv = dict(word.split("=", 1) for word in line.split())
            snaps[int(kv["snap"])][(kv["tid"], kv["comm"])] = {k: int(kv[k]) for k in FIELDS}
    return snaps


def thread_group(comm):
    """Threads grouped by role: ZeroMQ's I/O threads apart from the program's own."""
    if comm.startswith("ZMQbg/IO"):
        return "zmq I/O thread"
    if comm.startswith("ZMQbg/Reaper"):
        return "zmq reaper"
    return "program threads"


def snapshot_delta(snaps, a, b):
    """Per thread group, counters at snapshot b minus snapshot a."""
    delta = collections.defaultdict(collections.Counter)
    for key, counts in snaps.get(b, {}).items():
        before = snaps.get(a, {}).get(key, dict.fromkeys(FIELDS, 0))
        for field in FIELDS:
            delta[thread_group(key[1])][field] += counts[field] - before[field]
    return delta


def last_total(directory):
    """Sum over threads of the last snapshot of the only process in a directory."""
    files = glob.glob(os.path.join(directory, "*.txt"))
    if not files:
        return None
    snaps = snapshots(files[0])
    last = max(snaps)
    total = collections.Counter()
    for counts in snaps[last].values():
        total.update(counts)
    return total


def alloc_row(name, counts, tasks):
    allocs = counts["malloc"] + counts["calloc"] + counts["realloc"]
    return (f"| {name} | {allocs / tasks:.2f} | {counts['malloc'] / tasks:.2f} | "
            f"{counts['calloc'] / tasks:.2f} | {counts['realloc'] / tasks:.2f} | "
            f"{counts['free'] / tasks:.2f} | {s_bytes(counts['bytes'] / tasks)} |")


def s_bytes(value):
    return f"{value / 1048576:.2f} MiB" if value >= 1048576 / 4 else f"{value:,.0f}"


def allocations(prof, p, out):
    mc = os.path.join(prof, "malloc")
    with open(os.path.join(mc, "procs.txt"), encoding="utf-8") as f:
        line = f.read()
    broker = re.search(r"broker=(\d+)", line).group(1)
    workers = re.search(r"workers=([\d ]*)", line).group(1).split()
    n, na = int(p["N"]), int(p["NA"]) + int(p["WARMUP_APPLY"])
    out.append("## Allocations per task (malloc_count, full speed)")
    out.append("")
    out.append("Calls per task; `allocs` = malloc + calloc + realloc; `bytes` = bytes asked for. "
               "Workers are both workers together (each task runs on one of them). Client figures "
               "are the difference between a run of N and one of N/10 tasks.")
    out.append("")
    nmib = int(p.get("NMIB", 0))
    for workload, a, b, tasks, big, small, client_tasks in (
            ("workload 1: pipelined map", 1, 2, n, "client-map-big", "client-map-small",
             n - n // 10),
            ("workload 2: sequential apply", 2, 3, na, "client-apply-big", "client-apply-small",
             int(p["NA"]) - int(p["NA"]) // 10),
            ("workload 4: 1 MiB echo, window 16 (bytes per task / 1 MiB ≈ payload copies "
             "that allocate)", 3, 4, nmib, "client-mib-big", "client-mib-small",
             nmib - nmib // 10)):
        if tasks <= 0:
            continue
        out.append(f"**{workload}** ({tasks:,} tasks)")
        out.append("")
        out.append("| process / threads | allocs | malloc | calloc | realloc | free | bytes |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        snaps = snapshots(os.path.join(mc, "procs", broker + ".txt"))
        for group, counts in sorted(snapshot_delta(snaps, a, b).items()):
            out.append(alloc_row(f"broker: {group}", counts, tasks))
        total = collections.defaultdict(collections.Counter)
        for pid in workers:
            path = os.path.join(mc, "procs", pid + ".txt")
            if os.path.exists(path):
                for group, counts in snapshot_delta(snapshots(path), a, b).items():
                    total[group].update(counts)
        for group, counts in sorted(total.items()):
            out.append(alloc_row(f"workers: {group}", counts, tasks))
        big_total, small_total = last_total(os.path.join(mc, big)), last_total(
            os.path.join(mc, small))
        if big_total and small_total:
            diff = collections.Counter(big_total)
            diff.subtract(small_total)
            out.append(alloc_row("client: all threads", diff, client_tasks))
        out.append("")


# --- syscalls ---------------------------------------------------------------------------------

def perf_stat(path):
    """{(thread group, event): count} from a perf stat -x, file (per thread or not)."""
    counts = collections.Counter()
    if not os.path.exists(path):
        return counts
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.strip().split(",")
            try:
                float(parts[0])
                group, value, event = "all", parts[0], parts[2]
            except ValueError:
                group = thread_group(parts[0].rsplit("-", 1)[0])
                value, event = parts[1], parts[3]
            try:
                number = float(value)
            except ValueError:
                continue            # <not counted>, <not supported>
            counts[(group, event.split(":")[-1].replace("sys_enter_", ""))] += number
    return counts


def syscall_table(counts, tasks, label):
    rows = []
    for group in sorted({g for g, _ in counts}):
        total = counts.get((group, "sys_enter"), 0)
        cpu_ms = counts.get((group, "task-clock"), 0)
        switches = counts.get((group, "context-switches"), 0)
        if total == 0 and cpu_ms == 0:
            continue
        named = sorted(((c, e) for (g, e), c in counts.items()
                        if g == group and e not in ("sys_enter", "task-clock", "context-switches")
                        and c > 0), reverse=True)
        detail = ", ".join(f"{e} {c / tasks:.2f}" for c, e in named[:8])
        rows.append(f"| {label}: {group} | {cpu_ms * 1000 / tasks:.2f} | {switches / tasks:.2f} | "
                    f"{total / tasks:.2f} | {detail} |")
    return rows


def total_row(files, tasks, label):
    """One row summing every process and thread of a system."""
    counts = collections.Counter()
    for path in files:
        for (group, event), value in perf_stat(path).items():
            counts[event] += value
    if not counts:
        return []
    return [f"| **{label}: all processes** | **{counts['task-clock'] * 1000 / tasks:.2f}** | "
            f"**{counts['context-switches'] / tasks:.2f}** | **{counts['sys_enter'] / tasks:.2f}** | |"]


def strace_calls(path):
    """{syscall: calls} from strace -c output."""
    calls = {}
    if not os.path.exists(path):
        return calls
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0].replace(".", "").isdigit() and parts[-1] != "total":
                try:
                    calls[parts[-1]] = int(parts[3])
                except ValueError:
                    pass
    return calls


def syscalls(prof, p, out):
    n, na = int(p["N"]), int(p["NA"])
    warm = int(p["WARMUP_APPLY"])
    out.append("## CPU time, context switches and syscalls per task (perf stat, counting)")
    out.append("")
    out.append("Per task: CPU = task-clock in µs; cs = context switches; syscalls = "
               "raw_syscalls:sys_enter, with the main calls. Workers: both together. Client: the "
               "whole client process (includes connecting and building the items).")
    out.append("")
    header = ["| process / threads | CPU µs | cs | syscalls | main calls per task |",
              "|---|---:|---:|---:|---|"]
    for workload, w, tasks in (("workload 1: pipelined map", "map", n),
                               ("workload 2: sequential apply", "apply", na + warm)):
        out.append(f"**{workload}** ({tasks:,} tasks)")
        out.append("")
        out.extend(header)
        files = [os.path.join(prof, f"sys.{w}.{who}.csv") for who in ("broker", "workers",
                                                                        "client")]
        for label, path in zip(("broker", "workers", "client"), files):
            out.extend(syscall_table(perf_stat(path), tasks, label))
        out.extend(total_row(files, tasks, "zhive"))
        out.append("")
    files = [os.path.join(prof, f"sys.proxy.{who}.csv") for who in ("broker", "workers", "client")]
    if os.path.exists(files[0]):
        out.append(f"**reference: zmq_proxy anchor, same workload 1** ({n:,} tasks, REP workers)")
        out.append("")
        out.extend(header)
        for label, path in zip(("zmq_proxy", "REP workers", "client"), files):
            out.extend(syscall_table(perf_stat(path), n, label))
        out.extend(total_row(files, n, "zmq_proxy"))
        out.append("")
    ncg = int(p["NCG"])
    out.append(f"strace -c -f, workload 1 with {ncg:,} tasks (strace slows each call, so "
               "wakeups batch less than at full speed):")
    out.append("")
    for who, divisor, note in (("broker", ncg, ""), ("worker", ncg / 2, " (one of two workers: "
                                                      "per task it ran)")):
        calls = strace_calls(os.path.join(prof, f"strace.map.{who}.txt"))
        if calls:
            total = sum(calls.values())
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
            out.append(f"- {who}{note}: {total / divisor:.2f} syscalls/task: "
                       + ", ".join(f"{k} {v / divisor:.2f}" for k, v in top))
    out.append("")


def cpu(prof, out):
    out.append("## CPU time by thread and object (perf record -e cpu-clock, workload 1)")
    out.append("")
    out.append("Broker and workers share one recording: percentages are of all its samples. "
               "ZMQbg/IO/0 is libzmq's I/O thread; [kernel.kallsyms] is time in the kernel. "
               "perf stat above is the better per-process measure.")
    out.append("")
    for name in ("broker", "workers", "client"):
        path = os.path.join(prof, f"cpu.{name}.by-dso.txt")
        if os.path.exists(path):
            out.append(f"{name}:")
            out.append("```")
            with open(path, encoding="utf-8") as f:
                out.extend(line.rstrip() for line in f.readlines()[:12])
            out.append("```")
    for name in ("broker", "workers", "client"):
        path = os.path.join(prof, f"cpu.{name}.by-sym.txt")
        if os.path.exists(path):
            out.append(f"top symbols, {name}:")
            out.append("```")
            with open(path, encoding="utf-8") as f:
                out.extend(line.rstrip() for line in f.readlines()[:20])
            out.append("```")
    out.append("")


def instructions(prof, p, out):
    ncg, ncga = int(p["NCG"]), int(p["NCGA"])
    warm = int(p["WARMUP_APPLY"])
    out.append("## Instructions per task (callgrind)")
    out.append("")
    out.append("libzmq is stripped here (no debug package reachable), so its internal functions "
               "show as addresses; the calls table gives the inclusive cost of its entry points.")
    out.append("")
    runs = [
        ("broker, workload 1", "cg.broker.map", None, ncg),
        ("broker, workload 2", "cg.broker.apply", None, ncga + warm),
        ("worker (the only one), workload 1", "cg.worker.map", None, ncg),
        ("worker (the only one), workload 2", "cg.worker.apply", None, ncga + warm),
        ("client, workload 1 (N minus N/10)", "cg.client.map.big", "cg.client.map.small",
         ncg - ncg // 10),
        ("client, workload 2 (N minus N/10)", "cg.client.apply.big", "cg.client.apply.small",
         ncga - ncga // 10),
    ]
    for title, big, small, tasks in runs:
        path = os.path.join(prof, big)
        if not os.path.exists(path):
            out.append(f"### {title}: missing")
            continue
        profile = cgsum.parse(path)
        if small:
            profile = cgsum.minus(profile, cgsum.parse(os.path.join(prof, small)))
        out.append(f"### {title}")
        out.append("```")
        out.append(cgsum.summary(profile, tasks, 15))
        out.append("```")
    out.append("")


def main():
    prof = sys.argv[1]
    p = params(prof)
    out = [f"# zhive profile {os.path.basename(prof)} (commit {p.get('COMMIT', '?')}, worker "
           f"concurrency {p.get('CONCURRENCY', 'default')})", ""]
    for section in (lambda: allocations(prof, p, out), lambda: syscalls(prof, p, out),
                    lambda: cpu(prof, out), lambda: instructions(prof, p, out)):
        try:
            section()
        except Exception as error:  # a missing piece must not hide the others
            out.append(f"(section failed: {error!r})")
            out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
