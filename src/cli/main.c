/* acmed: entry point. Parses the command line and dispatches to a command.
 *
 * Only the commands listed in usage() exist in this version; anything else is a usage error
 * (exit 2), so --help never promises what the program cannot do. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"

enum { EXIT_USAGE = 2 };

static void usage(FILE *f)
{
    fprintf(f, "usage: acmed [--version] [--help]\n"
               "\n"
               "acmed is an ACME (RFC 8555) certificate renewal daemon. This build provides\n"
               "its foundation only; certificate issuance is not available yet.\n"
               "\n"
               "options:\n"
               "  --version   print \"acmed <version>\" and exit\n"
               "  -h, --help  print this help and exit\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    log_init();
    if (clock_init() < 0) {
        log_err("ACMED_FAKE_NOW must be a number of seconds since the epoch");
        return EXIT_USAGE;
    }
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            printf("acmed %s\n", ACMED_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            log_err("unknown option %s (see acmed --help)", argv[optind - 1]);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        log_err("unknown command \"%s\" (see acmed --help)", argv[optind]);
        return EXIT_USAGE;
    }
    usage(stderr);
    return EXIT_USAGE;
}
