#!/usr/bin/env python3
"""Checks that every file of src/ imports only files of its own layer or below, with the layers
read from the table in src/lib.rs's crate docs (`//! | N | what | `mod`, `mod` |`). Uses the
import graph of ../shared/tools/module-cycles (next to the repository, as in CI); without
that tool it says so and exits 0. Exit 1 on an upward import or a file in no layer."""
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
tool = os.path.join(os.path.dirname(root), "shared", "tools", "module-cycles")
if not os.path.exists(tool):
    print(f"layers: {tool} not found; not checked")
    sys.exit(0)
ns = {"__name__": "module_cycles"}
exec(compile(open(tool).read(), tool, "exec"), ns)
os.chdir(root)
mods, edges = ns["graph"]("src")

layer = {}
for line in open("src/lib.rs"):
    m = re.match(r"//! \| (\d+) \| [^|]* \| (.*) \|\s*$", line)
    if m:
        for name in re.findall(r"`([a-z_0-9]+)`", m.group(2)):
            layer[name] = int(m.group(1))
if not layer:
    sys.exit("layers: no layer table in src/lib.rs")


def of(mod):
    return layer.get(mod[0]) if mod else 0  # a file belongs to its top-level module's layer


bad = 0
for mod in sorted(mods):
    if of(mod) is None:
        print(f"layers: src/{'/'.join(mod)} is in no layer of the table in src/lib.rs")
        bad += 1
for a in sorted(mods):
    for b, names in sorted(edges[a].items()):
        la, lb = of(a), of(b)
        if la is not None and lb is not None and lb > la:
            print(f"layers: {'/'.join(a)} (layer {la}) imports {'/'.join(b)} (layer {lb}): {', '.join(sorted(names))}")
            bad += 1
if bad:
    sys.exit(1)
print(f"layers: {len(mods)} files in {len(set(layer.values()))} layers, every import downwards")
