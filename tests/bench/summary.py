#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""make bench's summary: build/bench/summary.tsv (summary.sh) to report.json and report.md."""
import json
import os
import sys


def verdict(value, op, target):
    if value is None:
        return "not measured"
    if not op:
        return ""
    ok = value >= target if op == ">=" else value <= target
    return "meets" if ok else "misses"


def main():
    out = sys.argv[1]
    header = {"date": sys.argv[2], "kernel": sys.argv[3], "cpus": int(sys.argv[4]),
              "commit": sys.argv[5]}
    rows = []
    with open(os.path.join(out, "summary.tsv")) as f:
        for line in f:
            rid, measure, value, unit, op, target, note = line.rstrip("\n").split("\t")
            v = float(value) if value not in ("", "nan") else None
            t = float(target) if target else None
            rows.append({"id": rid, "measure": measure, "value": v, "unit": unit,
                         "target": ({"op": op, "value": t} if op else None),
                         "verdict": verdict(v, op, t), "note": note})
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(dict(header, rows=rows), f, indent=1)
        f.write("\n")
    lines = ["# fogprobe bench", "",
             "%s, kernel %s, %d CPUs, %s. Ratios are with / without, measured side by "
             "side in one run." % (header["date"], header["kernel"], header["cpus"],
                                   header["commit"]), "",
             "| measure | value | target | verdict | note |", "|---|---|---|---|---|"]
    for r in rows:
        v = "n/a" if r["value"] is None else ("%g" % r["value"]) + (
            " " + r["unit"] if r["unit"] else "")
        t = "%s %g" % (r["target"]["op"], r["target"]["value"]) if r["target"] else ""
        cells = (r["measure"], v, t, r["verdict"], r["note"].strip())
        lines.append("| %s |" % " | ".join(c.replace("|", "\\|") for c in cells))
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
