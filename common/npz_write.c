/* npz_write.c — the .npy / .npz writers of npz.h (reading is in npz.c) */
#include "common/npz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "common/mem.h"
#include "common/util.h"

/* fixed member time (2000-01-01) so the same arrays give the same bytes */
#define NPZ_MTIME 946684800

/* ---- writing ------------------------------------------------------------------------------ */

/* numpy-style v1.0 header: dict, growth padding, spaces, '\n', total a multiple of 64 */
static size_t npy_header(char *out, size_t cap, enum npy_dtype t, int ndim, const int64_t *shape) {
    char sh[NPY_MAX_DIMS * 24 + 8], first[24] = "";
    size_t k = 0;
    sh[k++] = '(';
    for (int d = 0; d < ndim; d++) {
        k += (size_t)snprintf(sh + k, sizeof sh - k, d ? ", %lld" : "%lld", (long long)shape[d]);
    }
    if (ndim == 1) {
        sh[k++] = ',';
    }
    sh[k++] = ')';
    sh[k] = 0;
    if (ndim > 0) {
        snprintf(first, sizeof first, "%lld", (long long)shape[0]);
    }
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    int dl = snprintf(out + 10, cap - 10, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                      npy_dtype_descr(t), sh);
    size_t hl = (size_t)dl;
    size_t grow = ndim > 0 ? 21 - strlen(first) : 0;
    size_t total = 10 + hl + grow + 1;
    total += 64 - total % 64;
    memset(out + 10 + hl, ' ', total - 10 - hl - 1);
    out[total - 1] = '\n';
    size_t h = total - 10;
    out[8] = (char)(h & 0xff);
    out[9] = (char)(h >> 8);
    return total;
}

#define NPY_HDR_CAP 512

/* checks name/dtype/shape and returns the byte size in *nbytes */
static int check_array(const char *what, enum npy_dtype t, int ndim, const int64_t *shape,
                       const void *data, size_t *nbytes, char *err, size_t errsz) {
    if (npy_dtype_size(t) == 0) {
        seterr(err, errsz, "%s: unknown dtype %d", what, (int)t);
        return -1;
    }
    if (ndim < 0 || ndim > NPY_MAX_DIMS || (ndim > 0 && !shape)) {
        seterr(err, errsz, "%s: ndim %d out of range 0..%d", what, ndim, NPY_MAX_DIMS);
        return -1;
    }
    size_t count = 1, isz = npy_dtype_size(t);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] && count > SIZE_MAX / isz / (uint64_t)shape[d])) {
            seterr(err, errsz, "%s: bad shape[%d] = %lld", what, d, (long long)shape[d]);
            return -1;
        }
        count *= (size_t)shape[d];
    }
    if (count && !data) {
        seterr(err, errsz, "%s: data is NULL", what);
        return -1;
    }
    *nbytes = count * isz;
    return 0;
}

static int fsync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int fsync_dir_of(const char *path) {
    char dir[4096];
    const char *s = strrchr(path, '/');
    if (!s) {
        snprintf(dir, sizeof dir, ".");
    } else if (s == path) {
        snprintf(dir, sizeof dir, "/");
    } else {
        snprintf(dir, sizeof dir, "%.*s", (int)(s - path), path);
    }
    return fsync_path(dir);
}

int npy_save(const char *path, enum npy_dtype dtype, int ndim, const int64_t *shape,
             const void *data, char *err, size_t errsz) {
    char what[4200];
    snprintf(what, sizeof what, "npy: %s", path);
    size_t nbytes;
    if (check_array(what, dtype, ndim, shape, data, &nbytes, err, errsz)) {
        return -1;
    }
    char hdr[NPY_HDR_CAP], tmp[4200];
    size_t hl = npy_header(hdr, sizeof hdr, dtype, ndim, shape);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        seterr(err, errsz, "npy: cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = fwrite(hdr, 1, hl, f) == hl && (nbytes == 0 || fwrite(data, 1, nbytes, f) == nbytes);
    ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        e = ok ? errno : e;
        seterr(err, errsz, "npy: writing %s failed: %s", path, strerror(e));
        remove(tmp);
        return -1;
    }
    fsync_dir_of(path);
    return 0;
}

struct npz_member {
    char *name; /* "<name>.npy" */
    char hdr[NPY_HDR_CAP];
    size_t hlen, nbytes;
    const void *data; // borrowed
    uint64_t pos;
    zip_error_t error;
};

struct npz_writer {
    char *path, *tmp;
    int compress, n, cap;
    struct npz_member *m;
};

int npz_writer_open(struct npz_writer **wp, const char *path, int compress, char *err,
                    size_t errsz) {
    *wp = NULL;
    if (!path || !*path) {
        seterr(err, errsz, "npz: empty output path");
        return -1;
    }
    struct npz_writer *w = mem_alloc(sizeof *w);
    w->path = mem_strdup(path);
    w->tmp = mem_alloc(strlen(path) + 5);
    memcpy(w->tmp, path, strlen(path));
    memcpy(w->tmp + strlen(path), ".tmp", 5);
    w->compress = compress ? 1 : 0;
    *wp = w;
    return 0;
}

int npz_writer_add(struct npz_writer *w, const char *name, enum npy_dtype dtype, int ndim,
                   const int64_t *shape, const void *data, char *err, size_t errsz) {
    char what[600];
    snprintf(what, sizeof what, "npz: %s member '%.200s'", w->path, name ? name : "(null)");
    if (!name || !*name || strlen(name) > 4000) {
        seterr(err, errsz, "%s: member name must be 1..4000 characters", what);
        return -1;
    }
    size_t nbytes;
    if (check_array(what, dtype, ndim, shape, data, &nbytes, err, errsz)) {
        return -1;
    }
    for (int i = 0; i < w->n; i++) {
        if (strncmp(w->m[i].name, name, strlen(name)) == 0 &&
            strcmp(w->m[i].name + strlen(name), ".npy") == 0) {
            seterr(err, errsz, "%s: added twice", what);
            return -1;
        }
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        struct npz_member *m = mem_alloc((size_t)cap * sizeof *m);
        if (w->n) {
            memcpy(m, w->m, (size_t)w->n * sizeof *m);
        }
        mem_free(w->m);
        w->m = m;
        w->cap = cap;
    }
    struct npz_member *m = &w->m[w->n];
    memset(m, 0, sizeof *m);
    size_t l = strlen(name);
    m->name = mem_alloc(l + 5);
    memcpy(m->name, name, l);
    memcpy(m->name + l, ".npy", 5);
    m->hlen = npy_header(m->hdr, sizeof m->hdr, dtype, ndim, shape);
    m->nbytes = nbytes;
    m->data = data;
    w->n++;
    return 0;
}

/* libzip source serving a member's header followed by its data */
static zip_int64_t member_cb(void *ud, void *data, zip_uint64_t len, zip_source_cmd_t cmd) {
    struct npz_member *m = ud;
    uint64_t total = m->hlen + m->nbytes;
    switch (cmd) {
        case ZIP_SOURCE_OPEN:
            m->pos = 0;
            return 0;
        case ZIP_SOURCE_READ: {
            uint64_t n = len < total - m->pos ? len : total - m->pos, done = 0;
            while (done < n) {
                uint64_t p = m->pos + done, k;
                if (p < m->hlen) {
                    k = n - done < m->hlen - p ? n - done : m->hlen - p;
                    memcpy((char *)data + done, m->hdr + p, k);
                } else {
                    k = n - done;
                    memcpy((char *)data + done, (const char *)m->data + (p - m->hlen), k);
                }
                done += k;
            }
            m->pos += n;
            return (zip_int64_t)n;
        }
        case ZIP_SOURCE_CLOSE:
        case ZIP_SOURCE_FREE:
            return 0;
        case ZIP_SOURCE_STAT: {
            zip_stat_t *st = ZIP_SOURCE_GET_ARGS(zip_stat_t, data, len, &m->error);
            if (!st) {
                return -1;
            }
            zip_stat_init(st);
            st->size = total;
            st->mtime = NPZ_MTIME;
            st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
            return sizeof *st;
        }
        case ZIP_SOURCE_ERROR:
            return zip_error_to_data(&m->error, data, len);
        case ZIP_SOURCE_SEEK: {
            zip_int64_t p = zip_source_seek_compute_offset(m->pos, total, data, len, &m->error);
            if (p < 0) {
                return -1;
            }
            m->pos = (uint64_t)p;
            return 0;
        }
        case ZIP_SOURCE_TELL:
            return (zip_int64_t)m->pos;
        case ZIP_SOURCE_SUPPORTS:
            return zip_source_make_command_bitmap(
                ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, ZIP_SOURCE_SEEK, ZIP_SOURCE_TELL,
                ZIP_SOURCE_SUPPORTS, -1);
        default:
            zip_error_set(&m->error, ZIP_ER_OPNOTSUPP, 0);
            return -1;
    }
}

static void writer_free(struct npz_writer *w) {
    for (int i = 0; i < w->n; i++) {
        mem_free(w->m[i].name);
    }
    MEM_FREE_ALL(w->m, w->path, w->tmp, w);
}

/* libzip deletes an archive with no entries; write the 22-byte empty ZIP numpy writes */
static int write_empty_zip(const char *tmp) {
    static const unsigned char eocd[22] = {0x50, 0x4b, 0x05, 0x06};
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        return -1;
    }
    int ok = fwrite(eocd, 1, sizeof eocd, f) == sizeof eocd;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int npz_writer_close(struct npz_writer *w, char *err, size_t errsz) {
    if (!w) {
        seterr(err, errsz, "npz: close on a NULL writer");
        return -1;
    }
    zip_t *za = NULL;
    if (w->n == 0) {
        if (write_empty_zip(w->tmp)) {
            seterr(err, errsz, "npz: cannot write %s: %s", w->tmp, strerror(errno));
            goto fail;
        }
    } else {
        int zerr = 0;
        za = zip_open(w->tmp, ZIP_CREATE | ZIP_TRUNCATE, &zerr);
        if (!za) {
            zip_error_t ze;
            zip_error_init_with_code(&ze, zerr);
            seterr(err, errsz, "npz: cannot create %s: %s", w->tmp, zip_error_strerror(&ze));
            zip_error_fini(&ze);
            goto fail;
        }
        for (int i = 0; i < w->n; i++) {
            struct npz_member *m = &w->m[i];
            zip_error_init(&m->error);
            zip_source_t *src = zip_source_function(za, member_cb, m);
            if (!src) {
                seterr(err, errsz, "npz: %s: %s", w->tmp, zip_strerror(za));
                goto fail;
            }
            zip_int64_t idx = zip_file_add(za, m->name, src, ZIP_FL_ENC_UTF_8);
            if (idx < 0) {
                seterr(err, errsz, "npz: %s member '%s': %s", w->tmp, m->name, zip_strerror(za));
                zip_source_free(src);
                goto fail;
            }
            if (zip_set_file_compression(za, (zip_uint64_t)idx,
                                         w->compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) != 0) {
                seterr(err, errsz, "npz: %s member '%s': %s", w->tmp, m->name, zip_strerror(za));
                goto fail;
            }
        }
        if (zip_close(za) != 0) {
            seterr(err, errsz, "npz: writing %s failed: %s", w->tmp, zip_strerror(za));
            goto fail;
        }
        za = NULL;
    }
    if (fsync_path(w->tmp) != 0 || rename(w->tmp, w->path) != 0) {
        seterr(err, errsz, "npz: cannot move %s to %s: %s", w->tmp, w->path, strerror(errno));
        goto fail;
    }
    fsync_dir_of(w->path);
    for (int i = 0; i < w->n; i++) {
        zip_error_fini(&w->m[i].error);
    }
    writer_free(w);
    return 0;
fail:
    if (za) {
        zip_discard(za);
    }
    for (int i = 0; i < w->n; i++) {
        zip_error_fini(&w->m[i].error);
    }
    remove(w->tmp);
    writer_free(w);
    return -1;
}

void npz_writer_abort(struct npz_writer *w) {
    if (w) {
        writer_free(w);
    }
}
