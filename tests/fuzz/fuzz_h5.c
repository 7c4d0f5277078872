/* fuzz_h5 — the D4RL HDF5 loader (learner/dataset.c) on the bytes as a .hdf5 file: a declared
 * shape must never reach an allocation the file cannot back, and every error is one line. */
#include <stdint.h>

#include "common/log.h"
#include "learner/dataset.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) {
        log_set_level(LOG_ERROR);
        quiet = 1;
    }
    char err[512];
    struct dataset d;
    struct dataset_opts o;
    dataset_opts_default(&o);
    if (dataset_load(&d, fuzz_file(data, size, ".hdf5"), &o, err, sizeof err) == 0) {
        dataset_free(&d);
    }
    return 0;
}
