/* mjutil.c — MuJoCo error/warning handlers, loading MJCF text through a VFS, instability check. */
#include "envs/env_impl.h"

#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

static int g_installed;
static uint64_t g_warnings;
/* while a guarded call runs, the error handler jumps back here instead of exiting */
static jmp_buf g_jump;
static volatile int g_guarded;
static char g_errmsg[512];

/* warnings: count and log (the first 20, then every 1000th) */
static void on_warning(const char *msg) {
    g_warnings++;
    if (g_warnings <= 20 || g_warnings % 1000 == 0) {
        log_warn("mujoco warning #%llu: %s", (unsigned long long)g_warnings, msg);
    }
}

/* errors must not return: jump back to a guarded call, or log and exit */
static void on_error(const char *msg) {
    snprintf(g_errmsg, sizeof g_errmsg, "%s", msg);
    if (g_guarded) {
        g_guarded = 0;
        longjmp(g_jump, 1);
    }
    log_error("mujoco error: %s (exiting)", msg);
    exit(1);
}

int mjutil_init(char *err, size_t errsz) {
    if (g_installed) {
        return 0;
    }
    if (mj_version() != mjVERSION_HEADER) {
        snprintf(err, errsz, "mujoco: library version %d does not match header version %d; rebuild",
                 mj_version(), mjVERSION_HEADER);
        return -1;
    }
    mju_user_error = on_error;
    mju_user_warning = on_warning;
    g_installed = 1;
    return 0;
}

uint64_t mjutil_warning_count(void) {
    return g_warnings;
}

mjModel *mjutil_load_xml(const char *name, const char *xml, char *err, size_t errsz) {
    if (mjutil_init(err, errsz)) {
        return NULL;
    }
    char fname[128];
    snprintf(fname, sizeof fname, "%s.xml", name);
    size_t len = strlen(xml);
    mjVFS *vfs = mem_alloc(sizeof(mjVFS)); /* ~2 MB: never on the stack */
    mj_defaultVFS(vfs);
    int idx = -1;
    if (len < (size_t)1 << 30 && mj_makeEmptyFileVFS(vfs, fname, (int)len) == 0) {
        idx = mj_findFileVFS(vfs, fname);
    }
    if (idx < 0) {
        mem_free(vfs);
        snprintf(err, errsz, "model %s: could not place the MJCF text (%zu bytes) in a VFS", name,
                 len);
        return NULL;
    }
    memcpy(vfs->filedata[idx], xml, len);
    char msg[512] = "";
    mjModel *m = mj_loadXML(fname, vfs, msg, (int)sizeof msg);
    mj_deleteVFS(vfs);
    mem_free(vfs);
    if (!m) {
        /* MuJoCo's message spans lines: make it one */
        size_t n = strlen(msg);
        while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) {
            msg[--n] = 0;
        }
        for (char *c = msg; *c; c++) {
            *c = *c == '\n' ? ' ' : *c;
        }
        snprintf(err, errsz, "model %s: %s", name, msg[0] ? msg : "mj_loadXML failed");
    }
    return m;
}

mjData *mjutil_make_data(const mjModel *m, const char *name, char *err, size_t errsz) {
    mjData *volatile d = NULL;
    g_errmsg[0] = 0;
    if (setjmp(g_jump) == 0) {
        g_guarded = 1;
        d = mj_makeData(m);
        g_guarded = 0;
    } else {
        d = NULL;
    }
    if (!d) {
        snprintf(err, errsz, "model %s: mj_makeData failed: %s", name,
                 g_errmsg[0] ? g_errmsg : "out of memory");
    }
    return d;
}

void mjutil_warn_save(const mjData *d, struct mjutil_warn *w) {
    w->n[0] = d->warning[mjWARN_BADQPOS].number;
    w->n[1] = d->warning[mjWARN_BADQVEL].number;
    w->n[2] = d->warning[mjWARN_BADQACC].number;
}

int mjutil_unstable(const mjModel *m, const mjData *d, const struct mjutil_warn *w) {
    if (d->warning[mjWARN_BADQPOS].number != w->n[0] ||
        d->warning[mjWARN_BADQVEL].number != w->n[1] ||
        d->warning[mjWARN_BADQACC].number != w->n[2]) {
        return 1;
    }
    return !mjutil_finite(m, d);
}

int mjutil_finite(const mjModel *m, const mjData *d) {
    for (int i = 0; i < m->nq; i++) {
        if (!isfinite(d->qpos[i])) {
            return 0;
        }
    }
    for (int i = 0; i < m->nv; i++) {
        if (!isfinite(d->qvel[i])) {
            return 0;
        }
    }
    return 1;
}
