#!/usr/bin/env python3
"""Summarises Nsight Compute's raw CSV of one frame (tools/gpu-check.sh's ncu step).

    tools/ncu_summary.py OUT_DIR PRECISION...

Reads OUT_DIR/ncu-standard-608-PRECISION.csv for each precision and writes
OUT_DIR/ncu-summary.md: per kernel name, its launches, total time and the
time-weighted DRAM, SM and occupancy percentages of peak; then every launch in
frame order (the conv launches follow the graph's layer order), with the
tensor pipe's share where the metric was collected.
"""
import collections
import csv
import os
import sys

DRAM = "dram__throughput.avg.pct_of_peak_sustained_elapsed"
SM = "sm__throughput.avg.pct_of_peak_sustained_elapsed"
OCCUPANCY = "sm__warps_active.avg.pct_of_peak_sustained_active"
TENSOR = "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active"


def num(v):
    try:
        return float((v or "").replace(",", ""))
    except ValueError:
        return None


def pct(v):
    """A percentage, or '-' where the metric was not collected."""
    return "-" if v is None else "%.0f" % v


def summarise(out, precision):
    path = os.path.join(out, "ncu-standard-608-%s.csv" % precision)
    rows = list(csv.DictReader(l for l in open(path) if l.startswith('"')))
    rows = [r for r in rows if r.get("Kernel Name") and num(r.get("gpu__time_duration.sum")) is not None]
    agg = collections.OrderedDict()
    for r in rows:
        a = agg.setdefault(r["Kernel Name"].split("(")[0][:60], {"n": 0, "t": 0.0, DRAM: 0.0, SM: 0.0, OCCUPANCY: 0.0,
                                                                  "seen": set()})
        t = num(r["gpu__time_duration.sum"])
        a["n"] += 1
        a["t"] += t
        for m in (DRAM, SM, OCCUPANCY):
            if num(r.get(m)) is not None:
                a[m] += t * num(r.get(m))
                a["seen"].add(m)
    lines = ["", "standard model, 608, batch 1, %s, one frame (ncu, time-weighted means):" % precision, "",
             "| kernel | launches | total us | DRAM % of peak | SM % of peak | achieved occupancy % |",
             "|---|---:|---:|---:|---:|---:|"]
    for k, a in sorted(agg.items(), key=lambda kv: -kv[1]["t"]):
        mean = lambda m: a[m] / a["t"] if m in a["seen"] else None
        lines.append("| %s | %d | %.1f | %s | %s | %s |" % (k, a["n"], a["t"] / 1e3, pct(mean(DRAM)), pct(mean(SM)),
                                                          pct(mean(OCCUPANCY))))
    # Every launch in frame order (the conv launches follow the graph's
    # layer order): the per-layer view, with the tensor pipe where measured.
    lines += ["", "every launch, in order (%s):" % precision, "",
              "| # | kernel | grid | registers | us | DRAM % | SM % | tensor pipe % |",
              "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows):
        lines.append("| %d | %s | %s | %s | %.1f | %s | %s | %s |" % (
            i, r["Kernel Name"].split("(")[0][:50], r.get("launch__grid_size", "-"),
            r.get("launch__registers_per_thread", "-"), num(r["gpu__time_duration.sum"]) / 1e3,
            pct(num(r.get(DRAM))), pct(num(r.get(SM))), pct(num(r.get(TENSOR)))))
    return lines


def main():
    out, lines = sys.argv[1], []
    for precision in sys.argv[2:]:
        lines += summarise(out, precision)
    open(os.path.join(out, "ncu-summary.md"), "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
