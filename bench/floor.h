/* floor.h: what the floor programs (curl_floor.c, tls_floor.c) share with each other and with
 * acmed's ACMED_BENCH_MEMSTAT line (util/proc.c), so that bench/once.sh reads all of them the
 * same way. Header-only: the floors link nothing but libcurl. */
#ifndef ACMED_BENCH_FLOOR_H
#define ACMED_BENCH_FLOOR_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints "memstat: VmHWM=N VmRSS=N RssAnon=N RssFile=N kB" from /proc/self/status on stdout.
 * Returns 0, or -1 when a field is missing. */
static int floor_memstat(void)
{
    static const char *const names[] = {"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"};
    long v[4] = {-1, -1, -1, -1};
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        for (int i = 0; i < 4; i++) {
            if (strncmp(line, names[i], strlen(names[i])) == 0)
                v[i] = strtol(line + strlen(names[i]), NULL, 10);
        }
    }
    fclose(f);
    if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
        return -1;
    printf("memstat: VmHWM=%ld VmRSS=%ld RssAnon=%ld RssFile=%ld kB\n", v[0], v[1], v[2], v[3]);
    return 0;
}

/* What acmed's net/http.c does before curl_global_init: libssh2_init(LIBSSH2_INIT_NO_CRYPTO),
 * so that libssh2 (loaded by libcurl) never has OpenSSL load its engines. A no-op when the
 * libcurl loads no libssh2. */
static void floor_skip_ssh_crypto(void)
{
    int (*ssh2_init)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "libssh2_init");

    if (ssh2_init)
        ssh2_init(0x0001);
}

#endif
