/* afile.c — atomic file writes (afile.h) */
#include "common/afile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/util.h"

FILE *afile_open(struct afile *a, const char *path) {
    memset(a, 0, sizeof *a);
    size_t n = strlen(path);
    a->path = mem_strdup(path);
    a->tmp = mem_alloc(n + 5);
    memcpy(a->tmp, path, n);
    memcpy(a->tmp + n, ".tmp", 5);
    a->f = fopen(a->tmp, "wb");
    if (!a->f) {
        a->step = "create";
        a->err = errno;
    }
    return a->f;
}

void afile_fail(struct afile *a, int errnum) {
    if (!a->step) {
        a->step = "write";
        a->err = errnum ? errnum : EIO;
    }
}

static void release(struct afile *a) {
    if (a->f) {
        fclose(a->f);
    }
    MEM_FREE_ALL(a->path, a->tmp);
    memset(a, 0, sizeof *a);
}

void afile_abort(struct afile *a) {
    if (a->tmp) {
        unlink(a->tmp);
    }
    release(a);
}

/* fsyncs the directory holding path, so the rename survives a power loss */
static int fsync_parent(const char *path, char *err, size_t errsz) {
    char *dir = mem_strdup(path);
    char *slash = strrchr(dir, '/');
    const char *d = !slash ? "." : (slash == dir ? "/" : dir);
    if (slash && slash != dir) {
        *slash = 0;
    }
    int fd = open(d, O_RDONLY);
    int rc = fd < 0 ? -1 : fsync(fd);
    int e = errno;
    if (fd >= 0) {
        close(fd);
    }
    if (rc && !(fd >= 0 && e == EINVAL)) { /* EINVAL: the file system can't fsync directories */
        seterr(err, errsz,
               "saved %s but the fsync of its directory %s failed: %s; the file may not survive "
               "a power loss",
               path, d, strerror(e));
        mem_free(dir);
        return -1;
    }
    mem_free(dir);
    return 0;
}

int afile_commit(struct afile *a, char *err, size_t errsz) {
    const char *hint = "check free disk space and quotas";
    if (!a->step && a->f && ferror(a->f)) {
        afile_fail(a, EIO);
    }
    if (!a->step) {
        a->step = fflush(a->f) ? "flush" : fsync(fileno(a->f)) ? "fsync" : NULL;
        a->err = errno;
    }
    if (!a->step) {
        int rc = fclose(a->f);
        a->f = NULL;
        a->step = rc ? "close" : NULL;
        a->err = errno;
    }
    if (!a->step && rename(a->tmp, a->path)) {
        a->step = "rename";
        a->err = errno;
        hint = "check that the path is not a directory";
    }
    if (a->step) {
        if (strcmp(a->step, "create") == 0) {
            hint = "check that the directory exists and is writable";
        }
        seterr(err, errsz, "saving %s failed: %s %s: %s; %s (an existing %s is untouched)",
               a->path, a->step, a->tmp, strerror(a->err), hint, a->path);
        afile_abort(a);
        return -1;
    }
    int rc = fsync_parent(a->path, err, errsz);
    release(a);
    return rc;
}
