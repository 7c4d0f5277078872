/* ckpt.h — checkpoint files: named strings, integers, doubles, float32 arrays and raw bytes.
 *
 *   struct ckpt_writer w;
 *   ckpt_writer_init(&w);
 *   ckpt_put_str(&w, "agent", "floq");
 *   ckpt_put_u64(&w, "step", step);
 *   size_t shape[1] = {n_params};
 *   ckpt_put_f32(&w, "params", 1, shape, params);        // params borrowed until ckpt_save
 *   ckpt_put_bytes(&w, "rng", &rng, sizeof rng);          // copied
 *   char path[4096];
 *   ckpt_path(path, sizeof path, "run/checkpoints", step); // run/checkpoints/ckpt-0000001000.ckpt
 *   int rc = ckpt_save(&w, path, err, sizeof err);        // <path>.tmp, fsync, rename, fsync dir
 *   ckpt_writer_free(&w);
 *
 *   struct ckpt c;
 *   if (ckpt_latest("run/checkpoints", path, sizeof path, NULL, err, sizeof err) ||
 *       ckpt_load(&c, path, err, sizeof err)) { log_error("%s", err); ... }
 *   ckpt_get_u64(&c, "step", &step, err, sizeof err);
 *   ckpt_get_f32_exact(&c, "params", n_params, params, err, sizeof err);
 *   ckpt_free(&c);
 *
 * The file is a 24-byte header, one msgpack map {key: value} and a CRC-32 (docs/checkpoint.md).
 * Loading treats the file as untrusted: every length is checked against the bytes present, so
 * no declared size can make it allocate more than the file holds. Every error is one line in
 * err naming the file, the key and the fix. Integers are plain msgpack integers: the reader
 * does not remember whether a value was put as u64 or i64 (get_i64 reads any value that fits
 * int64, get_u64 any value >= 0). Float data is little-endian (the build requires an LE host).
 */
#ifndef FLOQ_CKPT_H
#define FLOQ_CKPT_H

#include <stddef.h>
#include <stdint.h>

#define CKPT_MAGIC       "FLOQCKPT" /* 8 bytes, no NUL */
#define CKPT_VERSION     1          /* the format version this build writes and reads */
#define CKPT_HEADER_SIZE 24         /* magic, version, payload length, header CRC-32 */
#define CKPT_TRAILER_SIZE 4         /* CRC-32 of header + payload */
#define CKPT_MAX_DIMS    4          /* float32 arrays have 0..4 dimensions */
#define CKPT_MAX_KEY     255        /* keys are 1..255 bytes, no NUL */
#define CKPT_MAX_ENTRIES 4096       /* entries per file */

enum ckpt_kind {
    CKPT_STR,   /* UTF-8 text without NUL bytes (msgpack str) */
    CKPT_UINT,  /* integer >= 0 (msgpack int) */
    CKPT_INT,   /* integer < 0 after loading; any int64 in a writer (msgpack int) */
    CKPT_F64,   /* one double (msgpack float 64; float 32 also read) */
    CKPT_F32,   /* float32 array with a shape (msgpack map dtype/shape/data) */
    CKPT_BYTES, /* raw bytes (msgpack bin) */
};

struct ckpt_entry {
    char *key; /* owned, NUL-terminated */
    enum ckpt_kind kind;
    uint64_t u;                  /* CKPT_UINT */
    int64_t i;                   /* CKPT_INT */
    double f;                    /* CKPT_F64 */
    int ndim;                    /* CKPT_F32: 0..CKPT_MAX_DIMS (0 = scalar, count 1) */
    size_t shape[CKPT_MAX_DIMS]; /* CKPT_F32 */
    size_t count;                /* CKPT_F32: floats; CKPT_STR: chars (no NUL); BYTES: bytes */
    const void *data;            /* STR/BYTES/F32; borrowed (writer F32) or owned (else) */
    void *owned;                 /* what ckpt_free/ckpt_writer_free release (NULL if borrowed) */
};

/* a loaded checkpoint; every value is owned and float data is 64-byte aligned */
struct ckpt {
    char *path; /* owned copy, used in messages */
    size_t n;
    struct ckpt_entry *entries; /* [n], in file order */
};

/* entries to save; the first failing put is remembered and reported by ckpt_save */
struct ckpt_writer {
    size_t n, cap;
    struct ckpt_entry *entries; /* [cap] */
    int failed;
    char err[320];
};

/* ---- writing ---------------------------------------------------------------------------- */

void ckpt_writer_init(struct ckpt_writer *w);
/* frees the writer's copies; NULL, zeroed and twice-freed writers are fine */
void ckpt_writer_free(struct ckpt_writer *w);
/* Each put returns 0, or -1 if the key is empty, longer than CKPT_MAX_KEY, already put, the
 * writer is full, or the value cannot be stored; the message is kept and ckpt_save fails with
 * it. s and bytes are copied; put_f32's data (shape-product floats) is borrowed until ckpt_save.
 * bytes may be NULL when n == 0, data when the shape product is 0. */
int ckpt_put_str(struct ckpt_writer *w, const char *key, const char *s);
int ckpt_put_u64(struct ckpt_writer *w, const char *key, uint64_t v);
int ckpt_put_i64(struct ckpt_writer *w, const char *key, int64_t v);
int ckpt_put_f64(struct ckpt_writer *w, const char *key, double v);
int ckpt_put_f32(struct ckpt_writer *w, const char *key, int ndim, const size_t *shape,
                 const float *data);
int ckpt_put_bytes(struct ckpt_writer *w, const char *key, const void *bytes, size_t n);
/* writes path atomically (path.tmp, fflush, fsync, rename, fsync of the directory); 0 or -1.
 * On failure the temp file is removed and an existing file at path is left untouched, except
 * when only the final directory fsync fails (the new file is then in place; err says so). */
int ckpt_save(const struct ckpt_writer *w, const char *path, char *err, size_t errsz);

/* ---- reading ---------------------------------------------------------------------------- */

/* reads and verifies path (magic, version, sizes, CRC-32s, payload); 0 or -1. On -1 c is
 * left zeroed, so ckpt_free(c) is optional. */
int ckpt_load(struct ckpt *c, const char *path, char *err, size_t errsz);
/* frees everything; safe on a zeroed or already-freed struct */
void ckpt_free(struct ckpt *c);
/* the entry called key, or NULL */
const struct ckpt_entry *ckpt_find(const struct ckpt *c, const char *key);
/* "string", "unsigned integer", ... for messages */
const char *ckpt_kind_name(enum ckpt_kind kind);

/* Lookups: 0, or -1 with a message naming the file and key when the key is missing or holds
 * another kind (or, for the numbers, a value out of range). Pointers stay valid until
 * ckpt_free. */
int ckpt_get_str(const struct ckpt *c, const char *key, const char **s, char *err, size_t errsz);
int ckpt_get_u64(const struct ckpt *c, const char *key, uint64_t *v, char *err, size_t errsz);
int ckpt_get_i64(const struct ckpt *c, const char *key, int64_t *v, char *err, size_t errsz);
/* any number: float, or an integer (converted to double) */
int ckpt_get_f64(const struct ckpt *c, const char *key, double *v, char *err, size_t errsz);
/* ndim and shape (room for CKPT_MAX_DIMS) may be NULL; *data has the shape-product floats */
int ckpt_get_f32(const struct ckpt *c, const char *key, int *ndim, size_t *shape,
                 const float **data, char *err, size_t errsz);
/* copies the array into out[count]; -1 if it has another number of floats (shape ignored) */
int ckpt_get_f32_exact(const struct ckpt *c, const char *key, size_t count, float *out, char *err,
                       size_t errsz);
/* n may be NULL */
int ckpt_get_bytes(const struct ckpt *c, const char *key, const void **data, size_t *n, char *err,
                   size_t errsz);
/* copies exactly n bytes into out; -1 if the entry has another size */
int ckpt_get_bytes_exact(const struct ckpt *c, const char *key, void *out, size_t n, char *err,
                         size_t errsz);

/* ---- shared by the writer and the reader ------------------------------------------------ */

/* frees entries[0..n) (their keys and owned values) and the array; NULL is fine */
void ckpt_entries_free(struct ckpt_entry *entries, size_t n);
/* zlib's CRC-32 of n bytes (any n), chained from crc (start with 0): the checksum of the header
 * and of the whole file (Python's zlib.crc32 gives the same) */
uint32_t ckpt_crc32(uint32_t crc, const void *data, size_t n);

/* ---- run directories -------------------------------------------------------------------- */

/* "<dir>/ckpt-<step, 10+ digits, zero-padded>.ckpt" into out[n]; 0, or -1 if it doesn't fit */
int ckpt_path(char *out, size_t n, const char *dir, uint64_t step);
/* the file in dir named ckpt-<digits>.ckpt with the highest step (other names, including
 * .tmp leftovers, are ignored) into path_out[n], its step into *step (NULL-able); 0, or -1
 * with a message if dir can't be read, has no checkpoint, or the path doesn't fit */
int ckpt_latest(const char *dir, char *path_out, size_t n, uint64_t *step, char *err, size_t errsz);

/* one checkpoint file of a directory */
struct ckpt_file {
    uint64_t step;
    char *path; /* owned: "<dir>/ckpt-<step>.ckpt" */
};
/* every regular file in dir named ckpt-<digits>.ckpt, newest (highest step) first, into a new
 * array *files of *n (0 is fine); 0, or -1 if dir can't be read. Free with ckpt_list_free. */
int ckpt_list(const char *dir, struct ckpt_file **files, size_t *n, char *err, size_t errsz);
void ckpt_list_free(struct ckpt_file *files, size_t n);
/* removes every checkpoint of dir but the newest keep (keep 0: none removed); 0 or -1 */
int ckpt_prune(const char *dir, size_t keep, char *err, size_t errsz);

#endif
