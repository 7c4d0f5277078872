/* fuzz_npz — the .npy parser on the bytes, and the .npz (ZIP) and .npy file loaders on the
 * bytes as a file (common/npz.c). Errors are fine; crashes, leaks and allocations beyond what
 * the file can hold are findings. */
#include <stdint.h>

#include "common/mem.h"
#include "common/npz.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    struct npy_array a;
    if (npy_parse(&a, data, size, "fuzz", err, sizeof err) == 0) {
        float *f = mem_try_alloc(a.count * sizeof(float));
        if (f) {
            npy_to_f32(&a, f);
            mem_free(f);
        }
        npy_free(&a);
    }
    if (npy_load(&a, fuzz_file(data, size, ".npy"), err, sizeof err) == 0) {
        npy_free(&a);
    }
    struct npz z;
    if (npz_load(&z, fuzz_file(data, size, ".npz"), err, sizeof err) == 0) {
        npz_free(&z);
    }
    return 0;
}
