#!/usr/bin/env python3
"""check_trace.py: checks an iotrace log (tests/shim/iotrace.c) for safe writes
(DESIGN.md section 2): every rename of a temp file `.tmp-*` into place under ROOT must be

  1. preceded by an fsync (or fdatasync) of that temp file, after its last write, when the
     temp file is a regular file (a symlink cannot be fsynced);
  2. followed by an fsync of the destination's directory, before the process renames
     anything else into place (so that the order of installs survives a crash);

and every temp file must have been created with O_CREAT|O_EXCL (never through an existing
name or link).

usage: check_trace.py LOG ROOT [--require keys,certs,state] [--quiet]

--require lists top-level directories of ROOT that must have seen at least one checked
rename (so that a trace that never wrote there does not pass vacuously). Exit 0 when every
check holds, 1 otherwise (each failure printed), 2 on bad usage. A directory created under
ROOT must also see its parent fsynced after the mkdir, before anything is renamed into place
inside it (else a crash can lose the directory with the files in it).
"""
import os
import sys

O_CREAT = 0o100
O_EXCL = 0o200
O_ACCMODE = 0o3


def parse(path):
    events = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 7:
                continue
            pid, op, rc, err, p1, p2, extra = parts[:7]
            events.append({"i": i, "pid": pid, "op": op, "rc": int(rc), "errno": int(err),
                           "path": p1, "path2": p2, "extra": extra})
    return events


def under(path, root):
    return path == root or path.startswith(root + "/")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    opts = [a for a in argv[1:] if a.startswith("--")]
    require = []
    quiet = "--quiet" in opts
    for i, a in enumerate(argv):
        if a == "--require" and i + 1 < len(argv):
            require = [x for x in argv[i + 1].split(",") if x]
            args = [x for x in args if x != argv[i + 1]]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    log, root = args
    root = os.path.realpath(root)
    events = parse(log)
    failures = []
    seen = {}
    checked = 0

    # One sequence for all processes: each line is logged when its call returned, so the
    # log order is the order in which calls completed.
    for evs in (events,):
        tmp_renames = [k for k, ev in enumerate(evs)
                       if ev["op"] == "rename" and ev["rc"] == 0
                       and os.path.basename(ev["path"]).startswith(".tmp-")
                       and under(ev["path2"], root)]
        for n, k in enumerate(tmp_renames):
            ev = evs[k]
            src, dst, kind = ev["path"], ev["path2"], ev["extra"]
            rel = os.path.relpath(dst, root)
            top = rel.split("/", 1)[0]
            checked += 1
            seen[top] = seen.get(top, 0) + 1
            # The temp file: created exclusively, written, fsynced after its last write.
            last_write = -1
            created_excl = None
            synced_at = -1
            for j in range(k):
                e = evs[j]
                if e["path"] != src:
                    continue
                if e["op"] == "open" and e["rc"] >= 0:
                    flags = int(e["extra"], 16)
                    if flags & O_CREAT:
                        created_excl = bool(flags & O_EXCL)
                elif e["op"] == "write" and e["rc"] > 0:
                    last_write = j
                elif e["op"] in ("fsync", "fdatasync") and e["rc"] == 0:
                    synced_at = j
            if kind == "f":
                if created_excl is False:
                    failures.append(f"{rel}: temp file {os.path.basename(src)} was created "
                                    "without O_EXCL")
                if synced_at < 0:
                    failures.append(f"{rel}: no fsync of {os.path.basename(src)} before its "
                                    "rename into place")
                elif synced_at < last_write:
                    failures.append(f"{rel}: {os.path.basename(src)} was written after its "
                                    "last fsync")
            # The directory: fsynced after the rename, before the next rename into place.
            d = os.path.dirname(dst)
            end = tmp_renames[n + 1] if n + 1 < len(tmp_renames) else len(evs)
            if not any(evs[j]["op"] in ("fsync", "fdatasync") and evs[j]["rc"] == 0
                       and evs[j]["path"] == d for j in range(k + 1, end)):
                later = any(evs[j]["op"] in ("fsync", "fdatasync") and evs[j]["rc"] == 0
                            and evs[j]["path"] == d for j in range(end, len(evs)))
                failures.append(f"{rel}: no fsync of {os.path.relpath(d, root) or '.'}/ after "
                                "the rename" + (" before the next install" if later else ""))
        # New directories: the parent fsynced after the mkdir, before the first rename into
        # place inside the new directory (or at all, when nothing is written there).
        for k, ev in enumerate(evs):
            if ev["op"] != "mkdir" or ev["rc"] != 0 or not under(ev["path"], root):
                continue
            parent = os.path.dirname(ev["path"])
            inside = ev["path"] + "/"
            end = next((j for j in range(k + 1, len(evs)) if evs[j]["op"] == "rename"
                        and evs[j]["rc"] == 0 and evs[j]["path2"].startswith(inside)),
                       len(evs))
            if not any(e["op"] in ("fsync", "fdatasync") and e["rc"] == 0
                       and e["path"] == parent for e in evs[k + 1:end]):
                failures.append(f"mkdir {os.path.relpath(ev['path'], root)}: parent "
                                f"{os.path.relpath(parent, root)}/ not fsynced afterwards" +
                                (" before a file was renamed into it" if end < len(evs) else ""))

    for top in require:
        if not seen.get(top):
            failures.append(f"no rename into place under {top}/ was traced")
    if not quiet:
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(seen.items()))
        print(f"check_trace: {checked} renames into place checked ({summary})")
    for f in failures:
        print(f"check_trace: FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
