/* fuzz_cfg — floq train's flags and config JSON (common/cfg.c, learner/train_cfg.c): the bytes
 * as a saved config.json, and split at NUL bytes as a command line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "learner/train_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    struct train_cfg tc;
    if (train_cfg_from_json(&tc, text, err, sizeof err) == 0) {
        char *again = train_cfg_json(&tc);
        struct train_cfg back;
        if (!again || train_cfg_from_json(&back, again, err, sizeof err) != 0) {
            abort(); /* what floq writes, it reads back */
        }
        free(again);
    }
    /* argv: the pieces between NUL bytes (at most 64) */
    char *argv[64];
    int argc = 0;
    for (size_t i = 0; i < size && argc < 64;) {
        argv[argc++] = text + i;
        i += strlen(text + i) + 1;
    }
    train_cfg_parse(&tc, argc, argv, err, sizeof err);
    free(text);
    return 0;
}
