#!/usr/bin/env python3
"""check.py: proves that the reliability suites guard acmed's safeguards (issue 7).

For each safeguard below, it removes that one safeguard from a copy of the source tree, builds
the copy (release build, incremental), runs the tests that should notice, and checks that at
least one of them fails. The copy is restored before the next mutation. Exit 0 when every
mutation was caught, 1 when one was not (a suite that no longer guards its safeguard), 2 when a
mutation no longer applies (the code it edits moved: update the table).

usage: tests/safeguards/check.py [--keep] [--only NAME[,NAME...]] [--list] [--verify]

--verify only checks that every mutation still applies exactly once (no build; run by ctest
as check.safeguards_apply so that a refactoring which moves guarded code fails early).

The work tree is a temp directory (under $TMPDIR) holding the tracked files of this checkout;
--keep leaves it behind. Run by `tests/run.sh` (after the main suites) and by hand.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name: (what is removed, [(file, old, new), ...], ctest regex of the tests that must notice)
MUTATIONS = {
    "fsync-file": (
        "fsync of a temp file before its rename into place",
        [("src/util/fsio.c",
          '    if (fsync(fd) < 0) {\n        rc = err_sys(e, -errno, "cannot fsync %s", tmp);',
          '    if (0) {\n        rc = err_sys(e, -errno, "cannot fsync %s", tmp);')],
        r"^(cli\.local_faults|unit\.fsio)$"),
    "fsync-dir": (
        "fsync of a directory after a rename or mkdir in it",
        [("src/util/fsio.c",
          '    if (fsync(fd) < 0)\n        rc = err_sys(e, -errno, "cannot fsync directory %s", dir);',
          '    if (0)\n        rc = err_sys(e, -errno, "cannot fsync directory %s", dir);')],
        r"^(cli\.local_faults|unit\.fsio)$"),
    "lock": (
        "the state directory lock",
        [("src/store/store.c",
          "    rc = lock_acquire(st->root, &st->lock_fd, e);",
          "    rc = 0;")],
        r"^(cli\.local_faults|unit\.store)$"),
    "checkpoint": (
        "the per-target checkpoint (state/<file>.json) after each step",
        [("src/reconcile/job.c",
          "    if (tstate_save(j->ctx->st, j->t->file, &j->ts, &e) < 0)\n"
          '        log_warn("%s: cannot save progress: %s", j->t->file, err_msg(&e));',
          "    (void)e;")],
        r"^(cli\.crash|torture\.kill_torture)$"),
    "names": (
        "hostname validation (characters, LDH rules, A-labels)",
        [("src/store/names.c",
          "    if (!in || (why = check_chars(in, len)) != NULL)\n        goto out;",
          "    if (!in || ((void)check_chars, 0))\n        goto out;"),
         ("src/store/names.c",
          "    if ((why = check_ldh(res)) == NULL && (why = check_alabels(res)) == NULL)\n"
          "        rc = 0;",
          "    rc = ((void)check_ldh, (void)check_alabels, 0);")],
        r"^(unit\.names|cli\.hostile_files)$"),
    "path-names": (
        "path component validation (no '/', no leading '.') in the store",
        [("src/store/store_util.c",
          "    return s && s[0] != '\\0' && s[0] != '.' && !strchr(s, '/');",
          "    return s && s[0] != '\\0';")],
        r"^(unit\.store|unit\.store_certs|cli\.hostile_files|cli\.local_faults)$"),
    "env-denylist": (
        "the refusal of LD_PRELOAD, PATH, BASH_ENV... in challenge.env (desired files, conf/target)",
        [("src/store/desired_schema.c",
          "    if (!envsafe_name_allowed(k->str, k->len))\n        return ynode_err(",
          "    if (0)\n        return ynode_err(")],
        r"^(unit\.desired|cli\.hostile_files)$"),
    "hook-env-filter": (
        "the hook runner's own filter of challenge.env (defence in depth)",
        [("src/hooks/hooks_env.c",
          "    if (envsafe_name_allowed(kv, len))\n        return true;",
          "    return true;")],
        r"^unit\.hooks$"),
    "hook-trust": (
        "the ownership and mode check of a hook and every directory up to /",
        [("src/hooks/discover.c",
          "    if (trust_path(path, &e) < 0) {",
          "    if (0 && trust_path(path, &e) < 0) {")],
        r"^(unit\.hooks|cli\.hook_events)$"),
    "hook-dir-trust": (
        "the refusal of a whole hook directory others can write to (its names mask nothing)",
        [("src/hooks/discover.c",
          "    if (trust_path(dir, &te) < 0) {",
          "    if (0 && trust_path(dir, &te) < 0) {")],
        r"^unit\.hooks$"),
    "hook-planted": (
        "ignoring another user's entry in a sticky hook directory (it would mask a good hook)",
        [("src/hooks/discover.c",
          "        if (open_to_others && planted(dir, path)) {",
          "        if (0 && planted(dir, path)) {")],
        r"^unit\.hooks$"),
    "trust-owner": (
        "the owner check (root or our euid) of util/trust",
        [("src/util/trust.c",
          "    if (!trust_owner_ok(st)) {",
          "    if (0 && !trust_owner_ok(st)) {")],
        r"^(unit\.trust|unit\.hooks|unit\.store|cli\.hook_events)$"),
    "trust-dir-mode": (
        "the refusal of a group- or other-writable (non-sticky) directory in util/trust",
        [("src/util/trust.c",
          "    if (S_ISDIR(st->st_mode) && trust_shared_write(st) && !(st->st_mode & S_ISVTX)) {",
          "    if (0 && S_ISDIR(st->st_mode) && trust_shared_write(st)) {")],
        r"^(unit\.trust|unit\.hooks|unit\.store|cli\.hook_events)$"),
    "ownership-warnings": (
        "the warnings about a state directory, desired/ or conf/ others can write to (as root)",
        [("src/store/store_perms.c",
          "    if (geteuid() != 0 || !root)\n        return 0;",
          "    if (geteuid() == 0 || !root)\n        return 0;")],
        r"^(unit\.store|cli\.hostile_files)$"),
    # The challenge listeners against a client holding connections open (net/conn_guard.h).
    "listener-evict": (
        "closing idle connections to make room (per address and at the global cap)",
        [("src/net/conn_guard.c",
          "    *victim = global_victim(g);\n"
          "    return *victim ? CONN_GUARD_EVICT : CONN_GUARD_REFUSE;",
          "    (void)global_victim;\n    return CONN_GUARD_REFUSE;"),
         ("src/net/conn_guard.c",
          "        close_owner(e->owner);\n    }\n    return next;",
          "        (void)close_owner;\n    }\n    return next;")],
        r"^(unit\.conn_guard|unit\.http01|unit\.tls_alpn|cli\.listener_flood)$"),
    "listener-grace": (
        "the grace before an address's older idle connections are closed (evicting at once)",
        [("src/net/conn_guard.c",
          "        if (age < grace)\n            wait = grace - age;",
          "        if (0)\n            wait = grace - age;"),
         ("src/challenge/http01.c",
          "uv_timer_start(&h->sweep, on_sweep, h->guard.lim.grace_ms, 0);",
          "uv_timer_start(&h->sweep, on_sweep, 0, 0);"),
         ("src/net/tls_alpn.c",
          "uv_timer_start(&t->sweep, on_sweep, t->guard.lim.grace_ms, 0);",
          "uv_timer_start(&t->sweep, on_sweep, 0, 0);")],
        r"^(unit\.conn_guard|unit\.http01|unit\.tls_alpn)$"),
    "listener-busy": (
        "keeping connections whose request has arrived out of the eviction",
        [("src/net/conn_guard.c",
          "    if (!e->linked || e->stage == stage)\n        return;",
          "    if (!e->linked || e->stage == stage || stage == CONN_GUARD_BUSY)\n        return;")],
        r"^(unit\.http01|unit\.tls_alpn)$"),
    "listener-deadline": (
        "the short deadline for a request (back to the 10 s of the whole exchange)",
        [("src/net/conn_guard.h",
          "#define CONN_GUARD_IDLE_MS 3000", "#define CONN_GUARD_IDLE_MS 10000")],
        r"^(unit\.conn_guard|unit\.http01|unit\.tls_alpn)$"),
    "tls-alpn-priority": (
        "the tls-alpn-01 listener's TLS 1.2/1.3 AEAD-only priorities (GnuTLS defaults instead)",
        [("src/net/tls_alpn_conn.c",
          "(gret = gnutls_priority_set(c->session, c->t->prio))",
          "(gret = gnutls_set_default_priority(c->session))")],
        r"^unit\.tls_alpn$"),
    "tls-alpn-log": (
        "logging answered tls-alpn-01 handshakes at debug level (at info instead)",
        [("src/net/tls_alpn_conn.c",
          '        log_debug("tls-alpn-01: answered %s for %s"',
          '        log_info("tls-alpn-01: answered %s for %s"')],
        r"^(unit\.tls_alpn|cli\.listener_flood)$"),
    "chain-check": (
        "the check of a downloaded chain (links, validity periods, trust anchors)",
        [("src/acme/cert.c",
          "    rc = x509_check_chain_links(&chain, anchors, anchors_len, clock_now(), "
          "CHAIN_CLOCK_SKEW, e);",
          "    rc = 0;")],
        r"^(integration\.acme_altroots|cli\.local_faults)$"),
    "chain-signature": (
        "the signature check of each link of a chain",
        [("src/crypto/x509_chain.c",
          "    rc = gnutls_x509_crt_verify(crt, &issuer, 1, flags, &status);",
          "    rc = 0 * (int)flags;")],
        r"^unit\.x509$"),
    "export-names": (
        "the export hook's check of the hostnames it reads before they reach a path",
        [("hooks/export",
          '    "" | .* | *[!A-Za-z0-9.*-]*) return 1 ;;',
          '    "") return 1 ;;')],
        r"^hooks\.export$"),
    "export-conf-trust": (
        "the export hook's refusal of an export.conf others may write (it is sourced as root)",
        [("hooks/export",
          "    ?????w* | ????????w*) return 1 ;;",
          "    ?????-*) ;;")],
        r"^hooks\.export$"),
    "cancel-waits": (
        "a forced stop ending the ACME client's waits (a retry, a nonce, a poll) at once",
        [("src/acme/client.c",
          "    if (!k->busy)\n        uv_timer_start(&k->timer, on_timer, 0, 0);",
          "    if (0)\n        uv_timer_start(&k->timer, on_timer, 0, 0);"),
         ("src/acme/poll.c",
          "    if (uv_is_active((uv_handle_t *)&p->timer))\n"
          "        uv_timer_start(&p->timer, on_poll_timer, 0, 0);",
          "    if (0)\n        uv_timer_start(&p->timer, on_poll_timer, 0, 0);")],
        r"^unit\.acme_client$"),
    "cancel-hooks": (
        "a forced stop killing the running hook's process group",
        [("src/hooks/hooks.c",
          "            terminate(j);\n        }\n    }\n}",
          "        }\n    }\n}")],
        # unit.hooks catches it in seconds; cli.forced_stop only by running into its timeout.
        r"^unit\.hooks$"),
    "keeper-grants": (
        "the keeper's check of a worker's signing request against the operations in flight",
        [("src/privsep/keeper_sign.c",
          "        if (sign_guard_check(grants[i].guard, &r, &ge) == 0)",
          "        if (sign_guard_check(grants[i].guard, &r, &ge) == 0 || 1)")],
        r"^(unit\.keeper_sign|unit\.keeper|unit\.remote_signer)$"),
    "cluster-target-names": (
        "the character check of names in a target from etcd before they become YAML",
        [("src/cluster/ctarget.c",
          "        if (!json_is_string(v) || !name_chars_ok(json_string_value(v)))",
          "        if (!json_is_string(v) || (!name_chars_ok(json_string_value(v)) && 0))")],
        r"^unit\.ctarget$"),
    "serve-peer-first": (
        "acmed serve deciding who asks (peer, HMAC) before it reads the body as a CSR",
        [("src/serve/serve_back.c",
          "    /* Who is asking, first: a stranger learns nothing about its body. */\n"
          "    if (rules_check(b->o.conf, b->keys, &rq, &v) < 0) {",
          "    /* Who is asking, first: a stranger learns nothing about its body. */\n"
          "    if (0) {")],
        r"^cli\.serve$"),
    "serve-hmac": (
        "the client rules' HMAC check of a request's body",
        [("src/serve/rules.c",
          "    if (cl->hmac_key_file) {",
          "    if (0) {")],
        r"^(unit\.serve_rules|cli\.serve)$"),
    "serve-rate": (
        "acmed serve's per-client rate",
        [("src/serve/serve_back.c",
          "    if (rate_take(&b->rate, v.index, &wait_s) < 0) {",
          "    if (0) {")],
        r"^cli\.serve$"),
    "worker-result-bounds": (
        "the keeper's range checks of what its worker reports (statuses, times, codes)",
        [("src/privsep/wmsg_engine.c",
          "    if (!ipc_get_u64(m, tag, 0, v) || *v > max)",
          "    if (!ipc_get_u64(m, tag, 0, v))")],
        r"^(unit\.wmsg_engine|unit\.keeper)$"),
    "fleet-anchors": (
        "a central server's chain checked against the system's store when no trust-anchors is set",
        [("src/reconcile/step_mgmt.c",
          "    if (rc == 0 && !*pem && (rc = x509_system_anchors(pem, len, e)) < 0)",
          "    if (rc == 0 && !*pem && (rc = 0))")],
        r"^unit\.pass$"),
    "fleet-keeper-chain": (
        "the keeper's own check of the chain its worker brings back from a central server",
        [("src/privsep/proxy_op.c",
          "        } else if (rc == 0 && o->kind == WOP_CSR_POST && r.status == 200 &&\n"
          "                   (rc = verify_chain(o, &r, &why)) < 0) {",
          "        } else if (rc == 0 && o->kind == WOP_CSR_POST && r.status == 200 &&\n"
          "                   (rc = 0)) {")],
        r"^unit\.keeper$"),
    "worker-privdrop": (
        "the worker's privilege drop before it is executed",
        [("src/privsep/child.c",
          "    if (s->id && privdrop_apply(s->id, &e) < 0) {",
          "    if (0 && s->id && privdrop_apply(s->id, &e) < 0) {")],
        r"^(unit\.worker|unit\.supervisor|cli\.privsep)$"),
    "seal-tag": (
        "the tag check of a sealed value read back from etcd",
        [("src/crypto/seal.c",
          "    ok = memeql_sec(tag, in + 1 + SEAL_NONCE_LEN + n, SEAL_TAG_LEN);",
          "    ok = 1;")],
        r"^unit\.seal$"),
    "seal-key-file": (
        "the owner and mode checks of the cluster's secret-file",
        [("src/crypto/seal_key.c",
          "    if (st.st_uid != owner) {",
          "    if (0) {"),
         ("src/crypto/seal_key.c",
          "    if (st.st_mode & 07177)",
          "    if (0)")],
        r"^unit\.seal_key$"),
    "cluster-unknown-keys": (
        "the refusal of unknown keys under conf/acmed.yaml's cluster:",
        [("src/store/conf_cluster.c",
          "        if (!in_list(path, known))",
          "        if (!in_list(path, known) && 0)")],
        r"^unit\.conf_cluster$"),
}


def run(cmd, cwd, log):
    with open(log, "ab") as f:
        return subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT).returncode


def copy_tree(dst):
    files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                           capture_output=True).stdout.split(b"\0")
    for rel in (f.decode() for f in files if f):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, rel), follow_symlinks=False)


def failed_tests(build, log):
    """The names ctest listed as failed in the last run logged to `log`."""
    names = []
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    try:
        start = max(i for i, l in enumerate(lines) if l.startswith("The following tests FAILED"))
    except ValueError:
        return names
    for l in lines[start + 1:]:
        parts = l.strip().split(" - ", 1)
        if len(parts) != 2:
            break
        names.append(parts[1].split(" (")[0])
    return names


def verify():
    """Checks, without building, that each mutation still applies exactly once."""
    status = 0
    for name, (_, edits, _) in MUTATIONS.items():
        for rel, old, _ in edits:
            n = open(os.path.join(ROOT, rel), encoding="utf-8").read().count(old)
            if n != 1:
                print(f"safeguards: {name}: the code to remove is in {rel} {n} times, not once: "
                      "update tests/safeguards/check.py", file=sys.stderr)
                status = 1
    return status


def main(argv):
    keep = "--keep" in argv
    only = None
    if "--verify" in argv:
        return verify()
    if "--list" in argv:
        for name, (what, _, tests) in MUTATIONS.items():
            print(f"{name:12} {what}  [{tests}]")
        return 0
    if "--only" in argv:
        only = argv[argv.index("--only") + 1].split(",")
        bad = [n for n in only if n not in MUTATIONS]
        if bad:
            print(f"check.py: unknown mutation(s): {', '.join(bad)}", file=sys.stderr)
            return 2
    work = tempfile.mkdtemp(prefix="acmed-safeguards.")
    src, build = os.path.join(work, "src"), os.path.join(work, "src", "build")
    log = os.path.join(work, "log")
    print(f"safeguards: work tree {work}", flush=True)
    copy_tree(src)
    t0 = time.time()
    if run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], src, log) or \
            run(["cmake", "--build", build, f"-j{os.cpu_count() or 2}"], src, log):
        print(f"safeguards: the unmutated copy does not build (see {log})", file=sys.stderr)
        return 2
    status = 0
    for name, (what, edits, tests) in MUTATIONS.items():
        if only and name not in only:
            continue
        saved = {}
        for rel, old, new in edits:
            path = os.path.join(src, rel)
            saved.setdefault(rel, open(path, encoding="utf-8").read())
            cur = open(path, encoding="utf-8").read()
            if cur.count(old) != 1:
                print(f"safeguards: {name}: the code to remove is no longer in {rel} "
                      "exactly once: update tests/safeguards/check.py", file=sys.stderr)
                for r, t in saved.items():
                    open(os.path.join(src, r), "w", encoding="utf-8").write(t)
                return 2
            open(path, "w", encoding="utf-8").write(cur.replace(old, new))
        try:
            with open(log, "a") as f:
                f.write(f"\n==== {name}: without {what} ====\n")
            if run(["cmake", "--build", build, f"-j{os.cpu_count() or 2}"], src, log):
                print(f"safeguards: {name}: the mutated copy does not build (see {log})",
                      file=sys.stderr)
                return 2
            t1 = time.time()
            rc = run(["ctest", "-R", tests, "--output-on-failure", "-j2", "--timeout", "600"],
                     build, log)
            failed = failed_tests(build, log) if rc else []
            took = time.time() - t1
            if failed:
                print(f"safeguards: without {what} ({name}): caught by "
                      f"{', '.join(failed)} ({took:.0f} s)", flush=True)
            else:
                print(f"safeguards: without {what} ({name}): NOT caught: {tests} all passed",
                      flush=True)
                status = 1
        finally:
            for rel, text in saved.items():
                # Restore (a newer mtime: the next build recompiles it).
                open(os.path.join(src, rel), "w", encoding="utf-8").write(text)
    print(f"safeguards: {'every removal was caught' if status == 0 else 'FAILED'} "
          f"({time.time() - t0:.0f} s; log {log})")
    if status == 0 and not keep:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
