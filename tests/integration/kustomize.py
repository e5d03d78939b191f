#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""Render a kustomization the way `kustomize build` does, for the subset of kustomize that
deploy/kubernetes uses (kustomize is not in Debian 12; test_kubernetes.sh compares this
with `kubectl kustomize` where a kubectl is installed):

  kustomize.py DIR     multi-document YAML on stdout

Supported, and refused when anything else appears in a kustomization.yaml: apiVersion,
kind (Kustomization, Component), resources (files and directories, recursively),
components, namespace (set on every object but Namespace and cluster-scoped kinds), and
patches given inline with a target of kind and name, applied as strategic merge patches:
maps merge key by key, lists of maps merge by their "name" key (containers, volumes,
volumeMounts, ports), other lists are replaced.
"""
import copy
import os
import sys

import yaml

KNOWN = {"apiVersion", "kind", "resources", "components", "namespace", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition"}


def merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if (isinstance(base, list) and isinstance(patch, list) and base and patch
            and all(isinstance(x, dict) and "name" in x for x in base + patch)):
        out = [copy.deepcopy(x) for x in base]
        names = [x["name"] for x in out]
        for p in patch:
            if p["name"] in names:
                i = names.index(p["name"])
                out[i] = merge(out[i], p)
            else:
                out.append(copy.deepcopy(p))
        return out
    return copy.deepcopy(patch)


def load_file(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


def build(d):
    with open(os.path.join(d, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    unknown = set(k) - KNOWN
    if unknown:
        raise SystemExit("%s: fields this renderer does not support: %s" % (d, sorted(unknown)))
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(d, r))
        objs += build(p) if os.path.isdir(p) else load_file(p)
    for c in k.get("components", []):
        objs = apply(objs, os.path.normpath(os.path.join(d, c)))
    return finish(objs, k, d)


def apply(objs, component):
    """A component: its resources added, its patches applied to what is there."""
    with open(os.path.join(component, "kustomization.yaml")) as f:
        k = yaml.safe_load(f)
    if k.get("kind") != "Component":
        raise SystemExit("%s: not a Component" % component)
    unknown = set(k) - KNOWN
    if unknown:
        raise SystemExit("%s: fields this renderer does not support: %s" % (component, sorted(unknown)))
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(component, r))
        objs = objs + (build(p) if os.path.isdir(p) else load_file(p))
    return finish(objs, k, component)


def finish(objs, k, d):
    for p in k.get("patches", []):
        if set(p) != {"target", "patch"} or set(p["target"]) - {"kind", "name"}:
            raise SystemExit("%s: only inline patches with a kind/name target are supported" % d)
        patch = yaml.safe_load(p["patch"])
        hits = [i for i, o in enumerate(objs) if o["kind"] == p["target"]["kind"]
                and o["metadata"]["name"] == p["target"].get("name", o["metadata"]["name"])]
        if not hits:
            raise SystemExit("%s: patch target %s matches nothing" % (d, p["target"]))
        for i in hits:
            objs[i] = merge(objs[i], patch)
    ns = k.get("namespace")
    if ns:
        for o in objs:
            if o["kind"] not in CLUSTER_SCOPED:
                o["metadata"]["namespace"] = ns
    return objs


if __name__ == "__main__":
    docs = build(sys.argv[1])
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=True))
