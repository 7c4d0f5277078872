/* tmpdir.h — a test program's temporary directory (with check.h, one translation unit a test):
 *
 *   tmpdir_make("test_npz");               // /tmp/test_npz.XXXXXX, or exit 1
 *   const char *p = tpath("a.npy");        // a file in it, remembered for tmpdir_remove
 *   write_file(p, bytes, n);
 *   CHECK(tmpdir_remove() == 0, "temp dir empty at the end");  // unlinks them, rmdir
 */
#ifndef FLOQ_TMPDIR_H
#define FLOQ_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static char *g_files[64]; /* the tpath names (malloc) */
static int g_nfiles;

static inline void tmpdir_make(const char *name) {
    snprintf(g_dir, sizeof g_dir, "/tmp/%s.XXXXXX", name);
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        exit(1);
    }
}

/* path of a temp file (recorded for cleanup; the same name gives the same path) */
static inline const char *tpath(const char *name) {
    for (int i = 0; i < g_nfiles; i++) {
        const char *b = strrchr(g_files[i], '/') + 1;
        if (strcmp(b, name) == 0) {
            return g_files[i];
        }
    }
    size_t n = strlen(g_dir) + strlen(name) + 2;
    g_files[g_nfiles] = malloc(n);
    snprintf(g_files[g_nfiles], n, "%s/%s", g_dir, name);
    return g_files[g_nfiles++];
}

static inline void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

/* unlinks every tpath file, removes the directory: 0, or -1 if it was not empty */
static inline int tmpdir_remove(void) {
    for (int i = 0; i < g_nfiles; i++) {
        unlink(g_files[i]);
        free(g_files[i]);
    }
    g_nfiles = 0;
    return rmdir(g_dir);
}

#endif
