/* fuzz.h — shared by the libFuzzer targets tests/fuzz/fuzz_*.c (make fuzz): the input as a
 * file, for the loaders that read paths (npz, checkpoints, HDF5). */
#ifndef FLOQ_FUZZ_H
#define FLOQ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

/* writes data to a per-process file named with suffix (e.g. ".npz") under /dev/shm (or /tmp)
 * and returns its path; the next call overwrites it */
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    static char path[256];
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(path, sizeof path, "%s/floq-fuzz-%d%s", dir, (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (size) {
            fwrite(data, 1, size, f);
        }
        fclose(f);
    }
    return path;
}

#endif
