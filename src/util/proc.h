/* proc: process-wide hardening that must hold before acmed touches a secret or the network.
 *
 * Key material lives in this process's memory (account and certificate keys, the EAB HMAC
 * key), so a core file must never be written and no other process of the same user may
 * ptrace it or read its memory; a peer that closes a socket or a hook that does not read its
 * stdin must not kill the daemon with SIGPIPE; and no descriptor acmed holds (a connection to
 * the CA, the state lock, a listener) may leak into a hook. */
#ifndef ACMED_UTIL_PROC_H
#define ACMED_UTIL_PROC_H

#include <stdbool.h>

#include "util/err.h"

/* Sets RLIMIT_CORE to 0 (soft and hard), makes the process not dumpable (PR_SET_DUMPABLE 0,
 * which also keeps other users' ptrace and /proc/<pid>/mem away) and ignores SIGPIPE. Called
 * first thing in main. Returns 0, or negative with e saying which step failed. */
int proc_harden(struct err *e);

/* Marks every open descriptor from 3 up close-on-exec, read from /proc/self/fd. Called just
 * before a child is spawned: libraries open descriptors without O_CLOEXEC (libcurl 7.88's
 * multi wakeup socketpair) and libuv runs no code in the child to close them. Returns the
 * number of descriptors that were changed, or negative when /proc/self/fd cannot be read. */
int proc_cloexec_all(void);

/* This process's memory, in KiB, from /proc/self/status: the peak resident set (VmHWM), the
 * resident set now (VmRSS) and its anonymous and file-backed parts (RssAnon, RssFile). */
struct proc_mem {
    long hwm, rss, anon, file;
};

/* Fills m. Returns 0, or negative when /proc/self/status cannot be read or lacks a field. */
int proc_mem_read(struct proc_mem *m);
/* The same from another process's status file ("/proc/<pid>/status"). */
int proc_mem_read_path(const char *path, struct proc_mem *m);

/* Whether ACMED_BENCH_MEMSTAT asks for memory lines (set and not "0"). */
bool proc_memstat_wanted(void);

/* For the benchmarks (bench/once.sh): when ACMED_BENCH_MEMSTAT is set and not "0", arranges
 * for one line "acmed: memstat: VmHWM=N VmRSS=N RssAnon=N RssFile=N kB" on stderr at exit
 * (from atexit, so before the libraries' own destructors run). Does nothing otherwise. */
void proc_memstat_at_exit(void);

#endif
