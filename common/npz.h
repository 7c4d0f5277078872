/* npz.h — numpy .npy / .npz files (ZIP or ZIP64, stored or deflated), read and written.
 *
 *   struct npz z;
 *   if (npz_load(&z, "data.npz", err, sizeof err)) { fprintf(stderr, "%s\n", err); ... }
 *   const struct npy_array *obs = npz_find(&z, "observations");   // member name without ".npy"
 *   ... obs->dtype == NPY_F4, obs->ndim == 2, obs->shape[0], obs->data ...
 *   npz_free(&z);
 *
 *   struct npz_writer *w;
 *   npz_writer_open(&w, "out.npz", 1, err, sizeof err);            // 1 = deflate
 * (savez_compressed) npz_writer_add(w, "observations", NPY_F4, 2, shape, obs, err, sizeof err);
 *   npz_writer_close(w, err, sizeof err);    // writes out.npz.tmp, fsyncs, renames
 *
 * Every reader error is one line naming the file, the member and the problem (truncated,
 * bad CRC, unsupported dtype, shape/size mismatch, ...). Data is little-endian C order.
 */
#ifndef FLOQ_NPZ_H
#define FLOQ_NPZ_H

#include <stddef.h>
#include <stdint.h>

#define NPY_MAX_DIMS 8

enum npy_dtype {
    NPY_F4, /* '<f4' float32 */
    NPY_F8, /* '<f8' float64 */
    NPY_I4, /* '<i4' int32 */
    NPY_I8, /* '<i8' int64 */
    NPY_U1, /* '|u1' uint8 */
    NPY_B1, /* '|b1' bool (one byte, 0 or 1) */
};

struct npy_array {
    char *name; /* member name without ".npy" (owned) */
    enum npy_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t shape[NPY_MAX_DIMS];
    size_t count; /* product of shape (1 for a scalar) */
    void *data;   /* count * npy_dtype_size(dtype) bytes (owned) */
};

struct npz {
    char *path; /* owned copy */
    int n;
    struct npy_array *arrays;
};

struct npz_writer; /* opaque */

size_t npy_dtype_size(enum npy_dtype t);
const char *npy_dtype_descr(enum npy_dtype t); /* "<f4", ... */

/* reads every member of an .npz; 0 on success, -1 with a one-line message in err */
int npz_load(struct npz *z, const char *path, char *err, size_t errsz);
/* the member called name (without ".npy"), or NULL */
const struct npy_array *npz_find(const struct npz *z, const char *name);
/* like npz_load, but reads only the members named in names[0..n) (without ".npy"; absent names
 * are not an error, check with npz_find); names == NULL reads every member */
int npz_load_select(struct npz *z, const char *path, const char *const *names, int n, char *err,
                    size_t errsz);
/* frees everything; safe on a zeroed or already-freed struct */
void npz_free(struct npz *z);

/* reads one .npy file */
int npy_load(struct npy_array *a, const char *path, char *err, size_t errsz);
/* parses an in-memory .npy image (used by npz_load); what names the source in messages */
int npy_parse(struct npy_array *a, const void *buf, size_t len, const char *what, char *err,
              size_t errsz);
void npy_free(struct npy_array *a);
/* writes one .npy file atomically */
int npy_save(const char *path, enum npy_dtype dtype, int ndim, const int64_t *shape,
             const void *data, char *err, size_t errsz);

/* converts any numeric member to float32 (out has a->count floats); -1 if not numeric */
int npy_to_f32(const struct npy_array *a, float *out);

/* npz writing: compress 1 = deflate (np.savez_compressed), 0 = stored (np.savez).
 * data passed to _add must stay valid until _close. _close writes path + ".tmp", fsyncs and
 * renames; on any error nothing is left at path and w is freed. _abort discards (NULL ok).
 * A failed _add leaves w usable (the member is not added); the caller still ends with _close
 * or _abort. Members are "<name>.npy" with a .npy v1.0 header, data 64-byte aligned. */
int npz_writer_open(struct npz_writer **w, const char *path, int compress, char *err, size_t errsz);
int npz_writer_add(struct npz_writer *w, const char *name, enum npy_dtype dtype, int ndim,
                   const int64_t *shape, const void *data, char *err, size_t errsz);
int npz_writer_close(struct npz_writer *w, char *err, size_t errsz);
void npz_writer_abort(struct npz_writer *w);

#endif
