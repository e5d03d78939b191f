// SPDX-License-Identifier: GPL-2.0-only
// Kubernetes objects validated against the Kubernetes OpenAPI schema (test_kubernetes.sh):
//
//   node validate_k8s.mjs RENDERED.yaml...
//
// kubernetes-models generates its validators from the Kubernetes OpenAPI definitions
// (required fields, types, enums, formats such as quantities and int-or-string ports);
// @kubernetes-models/prometheus-operator from the ServiceMonitor and PodMonitor CRDs'
// OpenAPI schemas. An object of a kind without a model fails. Prints one line per
// object; exits 1 if any is invalid.
import { readFileSync } from "node:fs";
import YAML from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const groups = {
	v1: core,
	"apps/v1": apps,
	"rbac.authorization.k8s.io/v1": rbac,
	"monitoring.coreos.com/v1": monitoring,
};
let bad = 0;
for (const file of process.argv.slice(2)) {
	for (const doc of YAML.parseAllDocuments(readFileSync(file, "utf8"))) {
		const o = doc.toJS();
		if (!o) continue;
		const what = `${file.split("/").slice(-1)[0]}: ${o.apiVersion} ${o.kind} ${o.metadata?.name}`;
		const Model = groups[o.apiVersion]?.[o.kind];
		if (!Model) {
			console.log(`    FAIL ${what}: no schema for this kind`);
			bad++;
			continue;
		}
		try {
			new Model(o).validate();
			console.log(`    valid ${what}`);
		} catch (e) {
			console.log(`    FAIL ${what}: ${e.message}`);
			bad++;
		}
	}
}
process.exit(bad ? 1 : 0);
