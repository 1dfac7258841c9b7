#!/usr/bin/env python3
"""bench/report.py - assemble the zhive benchmark table from bench/run's logs.

usage: report.py LOGDIR JSONFILE

LOGDIR holds one file per workload and system (w1-zhive.txt, w1-anchors.txt, ...) with
the "NAME key=value ..." lines that bench/zhive_bench and shared/anchors/run print, and
params.txt (KEY=VALUE lines written by bench/run). Prints the Markdown table to stdout
and writes the same figures as JSON to JSONFILE.
"""
import json
import os
import statistics
import sys


def parse_lines(path):
    """Every "NAME k=v ..." line of a file, as (name, {k: value}); numbers converted."""
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split()
            if len(words) < 2 or "=" in words[0] or not all("=" in w for w in words[1:]):
                continue
            fields = {}
            for word in words[1:]:
                key, _, value = word.partition("=")
                try:
                    fields[key] = float(value) if any(c in value for c in ".en") else int(value)
                except ValueError:
                    fields[key] = value
            rows.append((words[0], fields))
    return rows


def median_of(rows, name, key):
    """Median of a field over the lines named `name` (None if there are none)."""
    values = [f[key] for n, f in rows if n == name and key in f and not f.get("timeout")]
    return statistics.median(values) if values else None


def anchor_failed(path, name):
    """True if anchors/run said that anchor did not finish."""
    if not os.path.exists(path):
        return False
    with open(path, encoding="utf-8", errors="replace") as f:
        return any(line.startswith(name + " did not finish") for line in f)


def fmt(value, digits=0):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    if digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def ratio(zhive, anchor):
    if zhive is None or anchor is None or anchor == 0:
        return None
    return zhive / anchor


def fmt_ratio(value):
    return "—" if value is None else f"{value:.2f}×"


def main():
    logdir, json_path = sys.argv[1], sys.argv[2]
    params = {}
    with open(os.path.join(logdir, "params.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, value = line.strip().partition("=")
            if key:
                params[key] = value
    p = lambda key: params.get(key, "?")
    log = lambda name: os.path.join(logdir, name)
    rows = []

    def add(number, workload, metric, better, zhive, zmq=None, gearman=None, notes="",
            zmq_note=None, gearman_note=None):
        rows.append({
            "id": number, "workload": workload, "metric": metric, "better": better,
            "zhive": zhive, "zmq_proxy": zmq, "gearmand": gearman,
            "zhive_over_zmq_proxy": ratio(zhive, zmq), "zhive_over_gearmand": ratio(zhive, gearman),
            "notes": notes, "zmq_proxy_note": zmq_note, "gearmand_note": gearman_note,
        })

    def anchor_value(path, name, key):
        value = median_of(parse_lines(path), name, key)
        note = "did not finish in 120 s" if value is None and anchor_failed(path, name) else None
        if params.get("ANCHORS") == "skipped":
            note = "skipped"
        return value, note

    # 1. pipelined map
    z = parse_lines(log("w1-zhive.txt"))
    zmq, zn = anchor_value(log("w1-anchors.txt"), "zmq_proxy", "tasks_per_s")
    gm, gn = anchor_value(log("w1-anchors.txt"), "gearmand", "tasks_per_s")
    errors = sum(f.get("errors", 0) for n, f in z if n == "zhive_map")
    add(1, f"pipelined map, echo {p('SIZE1')} B, {p('N1')} tasks, {p('WORKERS')} workers, "
        f"window {p('WIN1')}", "tasks/s", "higher",
        median_of(z, "zhive_map", "tasks_per_s"), zmq, gm,
        f"median of {p('REPEAT')} run(s); {errors} errors", zn, gn)

    # 1b. the same map, workers granting more credit (--concurrency)
    z = parse_lines(log("w1b-zhive.txt"))
    if z:
        errors = sum(f.get("errors", 0) for n, f in z if n == "zhive_map")
        add("1b", f"pipelined map as 1, worker concurrency {p('CONC1B')} (default 16)",
            "tasks/s", "higher", median_of(z, "zhive_map", "tasks_per_s"), zmq, gm,
            f"median of {p('REPEAT')} run(s); {errors} errors; same anchors as 1", zn, gn)

    # 2. sequential apply
    z = parse_lines(log("w2-zhive.txt"))
    a = log("w2-anchors.txt")
    zmq50, zn = anchor_value(a, "zmq_proxy", "p50_us")
    gm50, gn = anchor_value(a, "gearmand", "p50_us")
    zmq99, _ = anchor_value(a, "zmq_proxy", "p99_us")
    workload = f"sequential apply, echo {p('SIZE1')} B, {p('N2')} calls"
    add("2a", workload, "p50 round trip µs", "lower", median_of(z, "zhive_apply", "p50_us"),
        zmq50, gm50, f"median of {p('REPEAT')} run(s)", zn, gn)
    add("2b", workload, "p99 round trip µs", "lower", median_of(z, "zhive_apply", "p99_us"),
        zmq99, None, "gearman_bench prints no p99", zn, "not reported")

    # 3. a map of tiny items, chunked when the API can
    z = parse_lines(log("w3-zhive.txt"))
    items = median_of(z, "zhive_chunked", "items_per_s")
    chunking = any(f.get("chunking") == 1 for n, f in z if n == "zhive_chunked")
    goal = 2000000
    note = (f"chunksize {p('CHUNK3')}" if chunking else "no chunking API yet (plain map)")
    note += f", window {p('WIN3')}; goal {goal:,} items/s"
    if items:
        note += f" = {items / goal * 100:.1f}% of goal"
    add(3, f"map of {int(p('N3')):,} tiny items (small ints), echo", "items/s", "higher",
        items, notes=note)

    # 4. 1 MiB arguments
    z = parse_lines(log("w4-zhive.txt"))
    zmq, zn = anchor_value(log("w4-anchors.txt"), "zmq_proxy", "MB_per_s")
    gm, gn = anchor_value(log("w4-anchors.txt"), "gearmand", "MB_per_s")
    add(4, f"1 MiB echo, window {p('WIN4')}", "MB/s (payload one way)", "higher",
        median_of(z, "zhive_map", "MB_per_s"), zmq, gm,
        f"median of {p('REPEAT')} run(s) after a warm-up; "
        f"zhive {p('N4')} tasks; anchors {p('N4A')} tasks (gearmand moves ~2 MB/s at 1 MiB, "
        f"so {p('N4')} would pass anchors/run's 120 s limit)", zn, gn)

    # 5. broker RSS with tasks queued: paced (the table's figure) and in one burst (notes)
    z = parse_lines(log("w5-zhive.txt"))
    runs = [f for n, f in z if n == "zhive_rss"]
    paced = next((f for f in runs if f["batch"] < f["tasks"] or len(runs) == 1), None)
    burst = next((f for f in runs if f is not paced), None)
    if paced:
        note = (f"submitted in maps of {paced['batch']:,}, each queued before the next; VmRSS "
                f"{paced['rss_before_kb']:,} → {paced['rss_after_kb']:,} KiB = "
                f"{paced['bytes_per_task']:.0f} B/task incl. {paced['payload']} B payload")
        if burst:
            note += (f"; all {burst['tasks']:,} in one burst: {burst['bytes_per_task_beyond_payload']:.0f}"
                     f" B/task beyond payload (VmHWM {burst['hwm_kb']:,} KiB), ingest "
                     f"{burst['submits_per_s']:,.0f} submits/s")
        if paced.get("timeout") or (burst and burst.get("timeout")):
            note += "; TIMED OUT"
        add(5, f"broker RSS, {int(paced['tasks']):,} tasks queued (no workers), "
            f"{p('SIZE5')} B args", "bytes per queued task beyond payload", "lower",
            paced["bytes_per_task_beyond_payload"], notes=note)
    else:
        add(5, "broker RSS, tasks queued", "bytes per queued task beyond payload", "lower", None,
            notes="did not run (see logs)")

    # 6. scaling
    z = parse_lines(log("w6-zhive.txt"))
    for n, f in z:
        if n != "zhive_scale":
            continue
        add(f"6.{f['workers']}", f"scaling: {f['workers']} worker(s), sleep({f['sleep_ms']} ms) async, "
            f"concurrency {f['concurrency']}, {f['tasks']} tasks", "tasks/s", "higher",
            f["tasks_per_s"], notes=f"ideal {f['ideal_tasks_per_s']:,.0f}/s, efficiency "
            f"{f['efficiency'] * 100:.0f}%" + ("; TIMED OUT" if f.get("timeout") else ""))

    # Markdown
    out = []
    out.append(f"zhive benchmark {p('STAMP')} — commit {p('COMMIT')}, {p('CPUS')} CPU(s) "
               f"({p('CPU')}), Linux {p('KERNEL')}, Release build")
    out.append("")
    out.append("| # | workload | metric | better | zhive | zmq_proxy | gearmand | zhive/zmq_proxy "
               "| zhive/gearmand | notes |")
    out.append("|---|---|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        digits = 1 if r["metric"].startswith(("p50", "p99", "MB/s", "bytes")) else 0
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            r["id"], r["workload"], r["metric"], r["better"], fmt(r["zhive"], digits),
            r["zmq_proxy_note"] or fmt(r["zmq_proxy"], digits),
            r["gearmand_note"] or fmt(r["gearmand"], digits),
            fmt_ratio(r["zhive_over_zmq_proxy"]), fmt_ratio(r["zhive_over_gearmand"]), r["notes"]))
    out.append("")
    out.append("Ratios are zhive ÷ anchor: above 1 is better for throughput, below 1 is better "
               "for latency and memory.")
    print("\n".join(out))

    raw = {}
    for name in sorted(os.listdir(logdir)):
        if name.endswith(".txt") and name != "params.txt":
            raw[name[:-4]] = [{"name": n, **f} for n, f in parse_lines(log(name))]
    result = {"timestamp": p("STAMP"), "commit": p("COMMIT"), "params": params, "rows": rows,
              "raw": raw, "markdown": "\n".join(out)}
    with open(json_path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
