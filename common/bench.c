#include "common/bench.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/rng.h"
#include "common/util.h"

const char *bench_blas_core(void) {
    return openblas_get_corename();
}

int bench_blas_threads(void) {
    return openblas_get_num_threads();
}

void bench_header(const char *section) {
    double load = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1) {
            load = -1;
        }
        fclose(f);
    }
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("\n== %s ==  OpenBLAS core %s (OPENBLAS_CORETYPE=%s), %d thread(s), loadavg %.2f\n",
           section, bench_blas_core(), ct ? ct : "unset", bench_blas_threads(), load);
    fflush(stdout);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}

void bench_record(const char *name, double value, const char *unit, const char *ref_name,
                  double ref_value) {
    if (ref_name) {
        printf("  %-40s %12.4g %-10s | %-28s %12.4g  ratio %.3f\n", name, value, unit, ref_name,
               ref_value, ref_value != 0 ? value / ref_value : 0.0);
    } else {
        printf("  %-40s %12.4g %-10s\n", name, value, unit);
    }
    fflush(stdout);
    const char *path = getenv("FLOQ_BENCH_JSONL");
    if (!path) {
        path = "build/bench.jsonl";
    }
    FILE *f = fopen(path, "a");
    if (!f) {
        fprintf(stderr, "bench: cannot append to %s; set FLOQ_BENCH_JSONL to a writable file\n",
                path);
        return;
    }
    fputs("{\"name\":", f);
    json_str(f, name);
    fprintf(f, ",\"value\":%.6g,\"unit\":", value);
    json_str(f, unit);
    if (ref_name) {
        fputs(",\"ref_name\":", f);
        json_str(f, ref_name);
        fprintf(f, ",\"ref_value\":%.6g,\"ratio\":%.6g", ref_value,
                ref_value != 0 ? value / ref_value : 0.0);
    } else {
        fputs(",\"ref_name\":null,\"ref_value\":null,\"ratio\":null", f);
    }
    fprintf(f, ",\"core\":\"%s\",\"threads\":%d}\n", bench_blas_core(), bench_blas_threads());
    fclose(f);
}

double bench_sgemm_gflops(int M, int N, int K, double seconds) {
    float *A = mem_alloc(sizeof(float) * (size_t)M * K);
    float *B = mem_alloc(sizeof(float) * (size_t)K * N);
    float *C = mem_alloc(sizeof(float) * (size_t)M * N);
    struct rng r;
    rng_seed(&r, 1);
    rng_fill_uniform(&r, A, (size_t)M * K);
    rng_fill_uniform(&r, B, (size_t)K * N);
    double flop = 2.0 * M * N * K, best = 0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
    int windows = 5;
    for (int w = 0; w < windows; w++) {
        double t0 = now_sec(), t;
        long it = 0;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f,
                        C, N);
            it++;
            t = now_sec() - t0;
        } while (t < seconds / windows);
        double g = flop * (double)it / t * 1e-9;
        if (g > best) {
            best = g;
        }
    }
    MEM_FREE_ALL(A, B, C);
    return best;
}
