// SPDX-License-Identifier: GPL-2.0-only
// The Loki queries of a Grafana dashboard, checked without a Loki (test_dashboards.sh):
//
//   node check_logql.mjs DASHBOARD.json PROMTAIL.yml EVENTS.jsonl
//
// - each query, its variables given their "All" value, parses with Grafana's own LogQL
//   grammar (@grafana/lezer-logql, the parser of Grafana's Loki query editor): no error
//   node;
// - every label a stream selector or a grouping names is one the Promtail config attaches
//   (static labels and the labels stage), and the job it selects is Promtail's job label;
// - the Promtail json stage's source keys exist in every event the daemon wrote, every
//   event type is a value of the dashboard's kind variable, and every field a line_format
//   prints is a key of some event.
// Prints what it checked; exits 1 on the first list of problems.
import { readFileSync } from "node:fs";
import { parser } from "@grafana/lezer-logql";
import YAML from "yaml";

const [dashPath, promtailPath, eventsPath] = process.argv.slice(2);
const dash = JSON.parse(readFileSync(dashPath, "utf8"));
const promtail = YAML.parse(readFileSync(promtailPath, "utf8"));
const events = readFileSync(eventsPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const errs = [];

const job = promtail.scrape_configs.find((j) => j.job_name === "fogprobe-events");
if (!job) {
	console.log("    promtail: no job fogprobe-events");
	process.exit(1);
}
const statics = job.static_configs[0].labels;
const labels = new Set(Object.keys(statics).filter((k) => !k.startsWith("__")));
const jsonStage = job.pipeline_stages.find((s) => s.json).json.expressions;
for (const s of job.pipeline_stages.filter((s) => s.labels)) {
	for (const k of Object.keys(s.labels)) labels.add(k);
}

const vars = dash.templating.list;
const kindVar = vars.find((v) => v.name === "kind");
const kinds = new Set(kindVar.query.split(","));
function substitute(expr) {
	for (const v of [...vars].sort((a, b) => b.name.length - a.name.length)) {
		expr = expr.split("${" + v.name + "}").join(v.allValue ?? ".*");
		expr = expr.split("$" + v.name).join(v.allValue ?? ".*");
	}
	if (/\$\{?\w/.test(expr.replace(/\{\{[^}]*\}\}/g, ""))) errs.push("unsubstituted variable: " + expr);
	return expr;
}

let queries = 0;
for (const p of dash.panels) {
	for (const t of p.targets ?? []) {
		if ((t.datasource ?? p.datasource).type !== "loki") continue;
		queries++;
		const expr = substitute(t.expr);
		const tree = parser.parse(expr);
		const used = [];
		tree.iterate({
			enter(n) {
				if (n.type.isError) errs.push(`${p.title}: parse error at ${n.from}: ${expr}`);
				if (n.name === "Matcher") {
					const id = n.node.getChild("Identifier");
					const str = n.node.getChild("String");
					const name = expr.slice(id.from, id.to);
					used.push(name);
					if (name === "job" && JSON.parse(expr.slice(str.from, str.to)) !== statics.job)
						errs.push(`${p.title}: selects job ${expr.slice(str.from, str.to)}, promtail's is ${statics.job}`);
				}
				if (n.name === "Grouping") {
					for (const c of n.node.getChild("Labels")?.getChildren("Identifier") ?? [])
						used.push(expr.slice(c.from, c.to));
				}
			},
		});
		for (const l of used)
			if (!labels.has(l)) errs.push(`${p.title}: label ${l} is not attached by promtail (${[...labels]})`);
		for (const m of expr.matchAll(/\{\{\s*\.(\w+)\s*\}\}/g))
			if (!events.some((e) => m[1] in e)) errs.push(`${p.title}: line_format field ${m[1]} is in no event`);
		console.log(`    ${p.title}: parses; labels ${[...new Set(used)].join(", ")}`);
	}
}
for (const e of events) {
	for (const [label, key] of Object.entries(jsonStage))
		if (!(key in e)) errs.push(`event without ${key} (promtail's ${label}): ${JSON.stringify(e)}`);
	if (!kinds.has(e.kind)) errs.push(`event kind ${e.kind} is not a value of the kind variable`);
}
const types = [...new Set(events.map((e) => e.kind))].sort();
console.log(`    ${queries} LogQL queries; ${events.length} events of kinds ${types.join(", ")}`);
if (queries === 0) errs.push("no Loki query in " + dashPath);
if (errs.length) {
	for (const e of [...new Set(errs)].slice(0, 20)) console.log("    " + e);
	process.exit(1);
}
