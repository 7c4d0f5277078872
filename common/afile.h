/* afile.h — writing a file atomically, the redis rdbSave way: write PATH.tmp, fflush, fsync,
 * close, rename over PATH, fsync the directory. A reader sees the old file or the new one,
 * never half of one, and a failed write leaves the old file untouched.
 *
 *   struct afile af;
 *   FILE *f = afile_open(&af, "run/config.json");
 *   if (f) { fputs(json, f); }
 *   if (afile_commit(&af, err, sizeof err)) { ... }   // -1: one line naming the step and errno
 */
#ifndef FLOQ_AFILE_H
#define FLOQ_AFILE_H

#include <stddef.h>
#include <stdio.h>

struct afile {
    FILE *f;          /* the temp file, open for writing (NULL after a failed open) */
    char *path, *tmp; /* owned */
    const char *step; /* the step that failed, for the message */
    int err;          /* its errno */
};

/* opens path.tmp for writing ("wb"); returns the stream, or NULL (afile_commit then reports the
 * failure). Call afile_commit or afile_abort exactly once either way. */
FILE *afile_open(struct afile *a, const char *path);
/* records a write error found by the caller (e.g. a short fwrite), so commit fails with it */
void afile_fail(struct afile *a, int errnum);
/* finishes the file and renames it over path; 0, or -1 with "saving PATH failed: STEP TMP:
 * strerror; HINT (an existing PATH is untouched)" (temp file removed), or -1 with a message
 * that only the directory fsync failed (the new file is in place) */
int afile_commit(struct afile *a, char *err, size_t errsz);
/* drops the temp file; path is untouched */
void afile_abort(struct afile *a);

#endif
