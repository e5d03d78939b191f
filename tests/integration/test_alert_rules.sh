#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# One set of thresholds: the daemon's default rules (`fogprobe rules`) and
# deploy/prometheus/fogprobe-rules.yml agree rule by rule: same alerts (by name and
# `form` label), same `for`, labels and annotations, and the same comparison, threshold,
# window, quantile, metrics, matchers and grouping labels in the PromQL (recording rules
# it uses are expanded first). Every alert of the file is in the engine or in the short
# list of those only Prometheus can evaluate. And promtool check rules / test rules pass.
. "$(dirname "$0")/lib.sh"
PROMTOOL=/usr/bin/promtool
[[ -x $PROMTOOL ]] || skip "promtool is not installed (tests/deps.sh)"
RULES=$ROOT/deploy/prometheus/fogprobe-rules.yml

check "promtool check rules" $PROMTOOL check rules "$RULES"
check "promtool test rules" bash -c "cd '$ROOT/deploy/prometheus' && $PROMTOOL test rules fogprobe-rules.test.yml"
"$FOGPROBE" rules >"$WORK/engine.json" || exit 1

/usr/bin/python3 - "$RULES" "$WORK/engine.json" >"$WORK/compare" <<'PY'
import json, re, sys, yaml

PROMETHEUS_ONLY = {
    "FogprobeDown": "up{} of the probe's own scrape: the probe cannot see itself unscraped",
    "ServiceSLOBudgetExhausted": "30 days of history",
}
y = yaml.safe_load(open(sys.argv[1]))
eng = json.load(open(sys.argv[2]))
records, alerts = {}, {}
for g in y["groups"]:
    for r in g["rules"]:
        if "record" in r:
            records.setdefault(r["record"], []).append(r["expr"])
        else:
            alerts[(r["alert"], r.get("labels", {}).get("form"))] = r

def expand(expr):
    for _ in range(4):
        for name, exprs in records.items():
            if name in expr:
                expr = expr.replace(name, "(" + " or ".join(exprs) + ")")
    return " ".join(expr.split())

def dur(s):
    m = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * m[u] for n, u in re.findall(r"(\d+)(ms|s|m|h|d)", s or "0s"))

def results():
    seen = set()
    for r in eng:
        key = (r["alert"], r["labels"].get("form"))
        seen.add(key)
        name = "%s%s" % (r["alert"], "[%s]" % key[1] if key[1] else "")
        p = alerts.get(key)
        if not p:
            yield name, "in the rules file", False, "missing"
            continue
        x = r["expr"]
        raw = " ".join(p["expr"].split())
        full = expand(p["expr"])
        yield name, "for", dur(p.get("for")) == dur(r["for"]), "%s vs %s" % (p.get("for"), r["for"])
        yield name, "labels", p.get("labels", {}) == r["labels"], "%s vs %s" % (p.get("labels"), r["labels"])
        pa = {k: " ".join(v.split()) for k, v in p["annotations"].items()}
        ea = {k: " ".join(v.split()) for k, v in r["annotations"].items()}
        yield name, "annotations", pa == ea, "%s vs %s" % (pa, ea)
        # the comparison at the top level: before an `and` guard
        main = raw.split(" and ")[0]
        m = re.search(r"(>=|<=|==|!=|>|<)\s*([0-9.eE+-]+)\s*$", main)
        ok = bool(m) and m.group(1) == x["op"] and float(m.group(2)) == float(x["threshold"])
        yield name, "comparison %s %s" % (x["op"], x["threshold"]), ok, main
        if x["fn"] != "gauge":
            wins = set(dur(w) for w in re.findall(r"\[(\w+)\]", full))
            yield name, "window %s" % x["window"], wins == {dur(x["window"])}, str(wins)
            yield name, "function %s" % x["fn"], (x["fn"] + "(") in full or (x["fn"] == "histogram_quantile" and "histogram_quantile(%g," % x["quantile"] in full.replace(" ", "")), full
        else:
            yield name, "no range function", "[" not in full, full
        metrics = x["metric"] if isinstance(x["metric"], list) else [x["metric"]]
        if "denominator" in x:
            metrics += [x["denominator"]["metric"]]
        if "and" in x:
            metrics += [x["and"]["metric"]]
            g = x["and"]
            yield name, "guard %s %s %s" % (g["metric"], g["op"], g["threshold"]), \
                re.search(re.escape(g["metric"]) + r"\s*%s\s*%g\b" % (re.escape(g["op"]), g["threshold"]), raw) is not None, raw
        for mname in metrics:
            yield name, "metric " + mname, re.search(r"\b%s(_bucket)?\b" % re.escape(mname), full) is not None, full
        for sel in [x] + ([x["denominator"]] if "denominator" in x else []):
            for k, v in sel.get("match", {}).items():
                op, val = ("!=", v[2:]) if v.startswith("!=") else ("=~", v[2:]) if v.startswith("=~") else ("=", v)
                yield name, "matcher %s%s\"%s\"" % (k, op, val), '%s%s"%s"' % (k, op, val) in full, full
        for k in ("sum_by", "avg_by"):
            if k in x:
                agg = k.split("_")[0]
                groups = re.findall(agg + r" by \(([^)]*)\)", full)
                want = {"job", "instance"} | set(x[k]) | ({"le"} if x["fn"] == "histogram_quantile" else set())
                yield name, "%s by %s" % (agg, x[k]), bool(groups) and all(set(s.strip() for s in gr.split(",")) == want for gr in groups), str(groups)
        if x.get("complement") or x.get("scale", 1) != 1:
            yield name, "complement %s, scale %s" % (x.get("complement", False), x.get("scale", 1)), \
                ("1 -" in raw) == bool(x.get("complement")) and (("* 100" in raw or "100 *" in raw) == (x.get("scale", 1) == 100)), raw
    for key in alerts:
        if key not in seen:
            yield key[0], "is in the engine or Prometheus-only", key[0] in PROMETHEUS_ONLY, "not in the engine"

for name, what, ok, detail in results():
    print("%s\t%s %s\t%s" % ("ok" if ok else "FAIL", name, what, "" if ok else detail))
PY
n=0
while IFS=$'\t' read -r res what detail; do
	n=$((n + 1))
	check "$what" [ "$res" == ok ] || echo "    $detail"
done <"$WORK/compare"
echo "  $n comparisons over $(grep -c '"alert"' "$WORK/engine.json") engine rules"
check "at least 150 comparisons made" [ "$n" -ge 150 ]
finish
