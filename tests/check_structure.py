#!/usr/bin/env python3
"""check_structure.py: the structural rules of issue 13, point 6.

  * every source file under src/ is under 600 lines;
  * no include circle between modules;
  * no call circle between modules, calls as the linker sees them (nm of the object files).

A module is x.c with x.h and its private x_*.h headers (a header x_y.h that has no x_y.c of
its own). Circles still being broken are listed in KNOWN below; a listed circle that is gone
is reported too, so the list only shrinks.

usage: check_structure.py SRC_DIR BUILD_DIR
"""
import os
import re
import subprocess
import sys

MAX_LINES = 600

# Circles (sorted member lists, joined by " ") that are known and being broken. Empty when
# issue 13 is done.
KNOWN = {
    "size": set(),
    "include": set(),
    "call": set(),
}


def modules(src):
    """Maps each source path (relative to src) to its module name ("layer/x")."""
    own = {}
    stems = set()
    for layer in sorted(os.listdir(src)):
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            continue
        for f in os.listdir(d):
            if f.endswith(".c"):
                stems.add(f"{layer}/{f[:-2]}")
    for layer in sorted(os.listdir(src)):
        d = os.path.join(src, layer)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith((".c", ".h")):
                continue
            stem = f"{layer}/{f[:-2]}"
            mod = stem
            if f.endswith(".h") and stem not in stems:
                # x_y.h without x_y.c: private header of the longest x that has a .c
                parts = f[:-2].split("_")
                for n in range(len(parts) - 1, 0, -1):
                    cand = f"{layer}/{'_'.join(parts[:n])}"
                    if cand in stems:
                        mod = cand
                        break
            own[f"{layer}/{f}"] = mod
    return own


def sccs(graph):
    """Tarjan's strongly connected components of size > 1 (or with a self edge excluded)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def include_graph(src, own):
    g = {}
    inc_re = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
    for path, mod in own.items():
        text = open(os.path.join(src, path), encoding="utf-8").read()
        for inc in inc_re.findall(text):
            dep = own.get(inc)
            if dep and dep != mod:
                g.setdefault(mod, set()).add(dep)
    return g


def call_graph(src, build, own):
    objs = {}
    for root, dirs, files in os.walk(build):
        # Tests build copies of the tree under test-tmp/ (packaging.deb) while this runs.
        dirs[:] = [d for d in dirs if d != "test-tmp"]
        for f in files:
            if not f.endswith(".c.o") or "/CMakeFiles/acmed_" not in root + "/":
                continue
            full = os.path.join(root, f)
            m = re.search(r"/src/([a-z]+/[A-Za-z0-9_]+\.c)\.o$", full)
            if m and m.group(1) in own:
                objs[own[m.group(1)]] = full
    if not objs:
        sys.exit(f"check_structure: no object files of src/ under {build}")
    defined, undefined = {}, {}
    for mod, obj in objs.items():
        out = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBR":
                defined[parts[2]] = mod
            elif len(parts) == 2 and parts[0] == "U":
                undefined.setdefault(mod, set()).add(parts[1])
    g = {}
    for mod, syms in undefined.items():
        for s in syms:
            dep = defined.get(s)
            if dep and dep != mod:
                g.setdefault(mod, set()).add(dep)
    return g


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    src, build = argv[1], argv[2]
    fail = 0
    own = modules(src)
    big = set()
    for path in sorted(own):
        n = sum(1 for _ in open(os.path.join(src, path), encoding="utf-8"))
        if n >= MAX_LINES:
            big.add(path)
            if path not in KNOWN["size"]:
                print(f"src/{path}: {n} lines (the limit is {MAX_LINES})", file=sys.stderr)
                fail = 1
    for path in sorted(KNOWN["size"] - big):
        print(f"src/{path} is under {MAX_LINES} lines now: remove it from KNOWN in {__file__}",
              file=sys.stderr)
        fail = 1
    for kind, g in (("include", include_graph(src, own)), ("call", call_graph(src, build, own))):
        found = {" ".join(c) for c in sccs(g)}
        for c in sorted(found - KNOWN[kind]):
            print(f"{kind} circle between modules: {c}", file=sys.stderr)
            fail = 1
        for c in sorted(KNOWN[kind] - found):
            print(f"{kind} circle {c} is gone: remove it from KNOWN in {__file__}",
                  file=sys.stderr)
            fail = 1
    if not fail:
        print("structure: ok")
    return fail


if __name__ == "__main__":
    sys.exit(main(sys.argv))
