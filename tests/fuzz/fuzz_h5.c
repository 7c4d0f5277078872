/* fuzz_h5 — the D4RL HDF5 loader (learner/dataset.c) on the bytes as a .hdf5 file: a declared
 * shape must never reach an allocation the file cannot back, and every error is one line.
 *
 * libhdf5 runs in a child process the loader forks (dataset.c, "HDF5 in a child process"): the
 * child inherits this process's ASan and libFuzzer's -malloc_limit_mb hook, and whatever ends
 * it (a crash in libhdf5, an ASan report, an allocation over the limit; and errors in floq's
 * own h5_col code, which runs there too) is a failed load here, not a finding. So this target
 * fuzzes the parent's side: the stream reader, its bounds, the exit-status handling and the
 * checks after it. test_dataset covers h5_col in-process (huge declarations, chunk claims,
 * truncations, non-numeric columns). A child that dies may still leave an h5-oom-* or
 * h5-crash-* file from libFuzzer's handlers; fuzz.sh removes those when the pass succeeds.
 *
 * The child may map only 256 MiB more than this process (RLIMIT_AS, set in the child by a
 * fork handler): a mutated file that declares a 100 MB column within the loader's bounds
 * then fails in the child at once instead of zeroing, filling and streaming it (13 inputs/s
 * without the limit). */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "common/log.h"
#include "learner/dataset.h"
#include "tests/fuzz/fuzz.h"

/* in the reader child: its address space may grow by 256 MiB (the size from /proc, read with
 * plain system calls) */
static void limit_child(void) {
    char buf[64] = {0};
    int fd = open("/proc/self/statm", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) {
        close(fd);
    }
    if (n > 0) {
        rlim_t pages = strtoull(buf, NULL, 10), lim = pages * (rlim_t)sysconf(_SC_PAGESIZE);
        struct rlimit rl = {lim + ((rlim_t)256 << 20), lim + ((rlim_t)256 << 20)};
        setrlimit(RLIMIT_AS, &rl);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        log_set_level(LOG_ERROR);
        pthread_atfork(NULL, NULL, limit_child);
        quiet = 1;
    }
    char err[512];
    struct dataset d;
    struct dataset_opts o;
    dataset_opts_default(&o);
    err[0] = 0;
    if (dataset_load(&d, fuzz_file(data, size, ".hdf5"), &o, err, sizeof err) == 0) {
        dataset_free(&d);
    } else if (!err[0] || strchr(err, '\n')) {
        abort(); /* a failed load says why, in one line */
    }
    return 0;
}
