#include "learner/q.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cfg.h"
#include "common/mem.h"
#include "common/npz.h"
#include "common/util.h"
#include "learner/agent_ckpt.h"

/* rows of width floats from an .npy array (n, width) */
static int read_npy_rows(const char *path, int width, float **out, int *n, char *err,
                         size_t errsz) {
    struct npy_array a;
    if (npy_load(&a, path, err, errsz)) {
        return -1;
    }
    if (a.ndim != 2 || a.shape[1] != width || a.shape[0] < 1) {
        snprintf(err, errsz, "%.300s: expected shape (n, %d) = obs then action per row, got %d-d",
                 path, width, a.ndim);
        npy_free(&a);
        return -1;
    }
    *n = (int)a.shape[0];
    *out = mem_alloc(sizeof(float) * a.count);
    if (npy_to_f32(&a, *out)) {
        snprintf(err, errsz, "%.300s: not a numeric array", path);
        npy_free(&a);
        mem_free(*out);
        return -1;
    }
    npy_free(&a);
    if (!all_finite(*out, (size_t)*n * width)) {
        snprintf(err, errsz, "%.300s: holds NaN or Inf", path);
        mem_free(*out);
        return -1;
    }
    return 0;
}

/* rows of width floats from a text file: obs then action per line, separated by spaces or
 * commas, # starts a comment */
static int read_text_rows(const char *path, int width, float **out, int *n, char *err,
                          size_t errsz) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errsz, "cannot open %.300s: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 1024, cnt = 0;
    float *v = mem_alloc(sizeof(float) * cap * width);
    char line[65536];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '#' || *p == '\n' || *p == 0) {
            continue;
        }
        if (cnt == cap) {
            float *nv = mem_alloc(sizeof(float) * cap * 2 * width);
            memcpy(nv, v, sizeof(float) * cap * width);
            mem_free(v);
            v = nv;
            cap *= 2;
        }
        int k = 0;
        while (k < width) {
            while (*p == ' ' || *p == '\t' || *p == ',') {
                p++;
            }
            char *end;
            float x = strtof(p, &end);
            if (end == p) {
                break;
            }
            if (!isfinite(x)) {
                snprintf(err, errsz, "%.300s:%d: value %d is not finite", path, lineno, k + 1);
                fclose(f);
                mem_free(v);
                return -1;
            }
            v[cnt * width + k++] = x;
            p = end;
        }
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n') {
            p++;
        }
        if (k != width || *p) {
            snprintf(err, errsz, "%.300s:%d: expected %d numbers (obs then action), got %d%s", path,
                     lineno, width, k, *p ? " and trailing text" : "");
            fclose(f);
            mem_free(v);
            return -1;
        }
        cnt++;
    }
    fclose(f);
    if (cnt == 0) {
        snprintf(err, errsz, "%.300s: no rows (each row: obs then action, %d numbers)", path,
                 width);
        mem_free(v);
        return -1;
    }
    *out = v;
    *n = (int)cnt;
    return 0;
}

static int read_rows(const char *path, int width, float **out, int *n, char *err, size_t errsz) {
    const char *dot = strrchr(path, '.');
    if (dot && strcmp(dot, ".npy") == 0) {
        return read_npy_rows(path, width, out, n, err, errsz);
    }
    return read_text_rows(path, width, out, n, err, errsz);
}

/* floq: per member, the mean over the stratified noise grid (j + 0.5)/R of the K-step Euler
 * read-out of the flow critic; q (rows, E+1): the mean over members, then each member */
static void q_floq(struct agent *a, const float *obs, const float *act, int rows, int K, int R,
                   double *q) {
    int O = a->c.obs_dim, A = a->c.act_dim, E = a->E, chunk = 4096;
    float *ro = mem_alloc(sizeof(float) * (size_t)chunk * O);
    float *ra = mem_alloc(sizeof(float) * (size_t)chunk * A);
    float *rr = mem_alloc(sizeof(float) * (size_t)chunk);
    float *out = mem_alloc(sizeof(float) * (size_t)E * chunk);
    for (int i = 0; i < rows; i++) {
        /* row i repeated for every quantile, in pieces of <= chunk */
        double acc[AGENT_MAX_E] = {0};
        for (int j0 = 0; j0 < R; j0 += chunk) {
            int jm = FLOQ_MIN(chunk, R - j0);
            for (int j = 0; j < jm; j++) {
                memcpy(ro + (size_t)j * O, obs + (size_t)i * O, sizeof(float) * O);
                memcpy(ra + (size_t)j * A, act + (size_t)i * A, sizeof(float) * A);
                rr[j] = ((float)(j0 + j) + 0.5f) / (float)R;
            }
            agent_flow_returns(a, ro, ra, rr, jm, K, out);
            for (int e = 0; e < E; e++) {
                for (int j = 0; j < jm; j++) {
                    acc[e] += out[(size_t)e * jm + j];
                }
            }
        }
        double tot = 0;
        for (int e = 0; e < E; e++) {
            q[(size_t)i * (E + 1) + 1 + e] = acc[e] / R;
            tot += acc[e] / R;
        }
        q[(size_t)i * (E + 1)] = tot / E;
    }
    MEM_FREE_ALL(ro, ra, rr, out);
}

/* fql: the critic members' values; q (rows, E+1) as q_floq */
static void q_fql(struct agent *a, const float *obs, const float *act, int rows, double *q) {
    int E = a->Ed;
    float *out = mem_alloc(sizeof(float) * (size_t)E * rows);
    agent_critic_q(a, obs, act, rows, out);
    for (int i = 0; i < rows; i++) {
        double tot = 0;
        for (int e = 0; e < E; e++) {
            q[(size_t)i * (E + 1) + 1 + e] = out[(size_t)e * rows + i];
            tot += out[(size_t)e * rows + i];
        }
        q[(size_t)i * (E + 1)] = tot / E;
    }
    mem_free(out);
}

int q_main(int argc, char **argv) {
    char ckpt[TRAIN_PATH_MAX] = "", input[TRAIN_PATH_MAX] = "", err[1024];
    int K = 0, R = 0, members = 0;
    struct cfg_opt o[] = {
        CFG_STR("checkpoint", ckpt, sizeof ckpt, "checkpoint file (floq or fql)"),
        CFG_STR("input", input, sizeof input,
                "rows of obs then action: text (whitespace/comma separated, # comments) or .npy "
                "(n, O+A)"),
        CFG_INT("flow_steps", &K, 0, 100000, "Euler steps of the read-out (0: as trained)"),
        CFG_INT("noise_samples", &R, 0, 100000,
                "stratified noise quantiles (j+0.5)/R (0: as trained)"),
        CFG_BOOL("members", &members, "also print each ensemble member's value"),
    };
    int rc = cfg_command(
        "q",
        "usage: floq q --checkpoint FILE --input FILE [--flow_steps K] [--noise_samples R]\n"
        "Prints Q(s,a) per input row: floq = mean over members and the noise grid of the\n"
        "K-step Euler read-out of the flow critic; fql = mean of the critic members.\n",
        o, (int)FLOQ_ARRAY_LEN(o), argc, argv);
    if (rc != CFG_RUN) {
        return rc;
    }
    if (!ckpt[0] || !input[0]) {
        fprintf(stderr, "floq q: --checkpoint FILE and --input FILE are required\n");
        return 2;
    }
    struct agent a;
    struct train_cfg tc;
    if (agent_ckpt_load(&a, &tc, ckpt, 0, NULL, err, sizeof err)) {
        fprintf(stderr, "floq q: %s\n", err);
        return 1;
    }
    int O = a.c.obs_dim, A = a.c.act_dim, rows;
    float *x;
    if (read_rows(input, O + A, &x, &rows, err, sizeof err)) {
        fprintf(stderr, "floq q: %s\n", err);
        agent_free(&a);
        return 2;
    }
    K = K ? K : a.K;
    R = R ? R : a.R;
    float *obs = mem_alloc(sizeof(float) * (size_t)rows * O);
    float *act = mem_alloc(sizeof(float) * (size_t)rows * A);
    for (int i = 0; i < rows; i++) {
        memcpy(obs + (size_t)i * O, x + (size_t)i * (O + A), sizeof(float) * O);
        memcpy(act + (size_t)i * A, x + (size_t)i * (O + A) + O, sizeof(float) * A);
    }
    int floq = a.c.kind == AGENT_FLOQ, E = floq ? a.E : a.Ed;
    double *q = mem_alloc(sizeof(double) * (size_t)rows * (E + 1));
    if (floq) {
        q_floq(&a, obs, act, rows, K, R, q);
    } else {
        q_fql(&a, obs, act, rows, q);
    }
    /* a value that is not a number is an error, not an answer */
    for (size_t i = 0; i < (size_t)rows * (E + 1); i++) {
        if (!isfinite(q[i])) {
            fprintf(stderr,
                    "floq q: row %zu of %s: Q is %g (%s); the checkpoint's critic overflows on "
                    "this input\n",
                    i / (size_t)(E + 1) + 1, input, q[i],
                    i % (size_t)(E + 1) ? "an ensemble member" : "the mean");
            MEM_FREE_ALL(q, obs, act, x);
            agent_free(&a);
            return 1;
        }
    }
    if (floq) {
        printf("# floq q: %s, agent %s, %d rows, flow_steps %d, noise_samples %d\n", ckpt, tc.agent,
               rows, K, R);
    } else {
        printf("# floq q: %s, agent %s, %d rows\n", ckpt, tc.agent, rows);
    }
    for (int i = 0; i < rows; i++) {
        printf("%.7g", q[(size_t)i * (E + 1)]);
        for (int e = 0; members && e < E; e++) {
            printf(" %.7g", q[(size_t)i * (E + 1) + 1 + e]);
        }
        printf("\n");
    }
    MEM_FREE_ALL(q, obs, act, x);
    agent_free(&a);
    return 0;
}
