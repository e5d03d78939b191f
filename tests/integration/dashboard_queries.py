#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every Prometheus query of every panel of deploy/grafana/dashboards, run against a real
Prometheus's HTTP API (test_dashboards.sh).

  dashboard_queries.py PROM_URL START END INSTANCE DASHBOARD.json...

Grafana's variables are substituted as Grafana does: $instance by the one instance the
test's Prometheus scraped, $service and $kind by their "All" value (allValue). Each query
runs as a range query over [START, END] (the workloads' window) at a 2 s step; a target
passes when at least one series has at least one finite value (histogram_quantile of an
empty rate is NaN: a latency panel with no sample fails). Loki targets are listed, not
run (no Loki in Debian: check_logql.mjs parses them). Prints one line per target and a
summary; exits 1 if any target has no data.
"""
import json
import math
import re
import sys
import urllib.parse
import urllib.request

prom, start, end, instance = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]


def substitute(expr, variables):
    values = {"instance": re.escape(instance)}
    for v in variables:
        if v["name"] not in values:
            values[v["name"]] = v.get("allValue", ".*")
    # ${name}, $name; longest names first so that $instance is not read as $in...
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${%s}" % name, values[name]).replace("$" + name, values[name])
    left = re.findall(r"\$\{?\w+", expr)
    if left:
        raise ValueError("unsubstituted variables %s" % left)
    # Inside a PromQL double-quoted string a backslash escapes: \. must be \\.
    return re.sub(r'(=~")([^"]*)(")', lambda m: m.group(1) + m.group(2).replace("\\", "\\\\") + m.group(3), expr)


def query_range(expr):
    data = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": "2"}).encode()
    with urllib.request.urlopen(prom + "/api/v1/query_range", data, timeout=30) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise ValueError(body)
    return body["data"]["result"]


failed = ran = loki = panels = 0
for path in sys.argv[5:]:
    d = json.load(open(path))
    variables = d["templating"]["list"]
    for p in d["panels"]:
        if p["type"] == "row":
            continue
        panels += 1
        for t in p["targets"]:
            ds = t.get("datasource", p["datasource"])["type"]
            if ds == "loki":
                loki += 1
                print("  loki %s / %s: %s (parsed by check_logql.mjs)" % (d["uid"], p["title"], t["expr"]))
                continue
            ran += 1
            expr = substitute(t["expr"], variables)
            try:
                result = query_range(expr)
            except Exception as e:  # a bad query is a failure too, with Prometheus's words
                failed += 1
                print("  FAIL %s / %s [%s]: %s\n       %s" % (d["uid"], p["title"], t["refId"], e, expr))
                continue
            finite = [float(v) for s in result for _, v in s["values"] if math.isfinite(float(v))]
            if not finite:
                failed += 1
                print("  FAIL %s / %s [%s]: no data (%d series, none finite)\n       %s"
                      % (d["uid"], p["title"], t["refId"], len(result), expr))
            else:
                nz = sum(1 for v in finite if v != 0)
                print("  data %s / %s [%s]: %d series, %d points, %d non-zero, max %.4g"
                      % (d["uid"], p["title"], t["refId"], len(result), len(finite), nz, max(finite)))
print("%d panels: %d PromQL queries run, %d without data; %d LogQL queries (not run)"
      % (panels, ran, failed, loki))
sys.exit(1 if failed else 0)
