/* safewrite: writes DIR/NAME the way DESIGN.md section 2 asks (temp file .tmp-NAME-1 created
 * with O_EXCL, written, fsynced, renamed into place, directory fsynced), or with one step left
 * out, so that tests/cli/test_local_faults.sh can show that tests/shim/check_trace.py tells
 * them apart.
 *
 * usage: safewrite good|nosync|nodirsync DIR NAME */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    char tmp[4096], dst[4096];
    int fd, dfd, sync_file, sync_dir;

    if (argc != 4) {
        fprintf(stderr, "usage: safewrite good|nosync|nodirsync DIR NAME\n");
        return 2;
    }
    sync_file = strcmp(argv[1], "nosync") != 0;
    sync_dir = strcmp(argv[1], "nodirsync") != 0;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%s-1", argv[2], argv[3]);
    snprintf(dst, sizeof dst, "%s/%s", argv[2], argv[3]);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "data\n", 5) != 5 || (sync_file && fsync(fd) < 0) || close(fd) < 0) {
        perror(tmp);
        return 1;
    }
    if (rename(tmp, dst) < 0) {
        perror(dst);
        return 1;
    }
    dfd = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || (sync_dir && fsync(dfd) < 0)) {
        perror(argv[2]);
        return 1;
    }
    close(dfd);
    return 0;
}
