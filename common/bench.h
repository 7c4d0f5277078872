/* bench.h — benchmark reporting: a readable row on stdout plus one JSON line per figure.
 *
 *   bench_header("nn");     // prints the section title, the OpenBLAS core and thread count
 *   double ref = bench_sgemm_gflops(2048, 512, 512, 0.2);   // same-run reference
 *   bench_record("mlp_fwd_bwd_paper", gflops, "GFLOP/s", "sgemm_2048x512x512", ref);
 *
 * JSON lines go to $FLOQ_BENCH_JSONL, default build/bench.jsonl (appended):
 *   {"name":..., "value":..., "unit":..., "ref_name":..., "ref_value":..., "ratio":...}
 */
#ifndef FLOQ_BENCH_H
#define FLOQ_BENCH_H

/* prints a section header with the OpenBLAS core name, thread count and the load average */
void bench_header(const char *section);
/* prints "name  value unit  | ref_name ref_value  ratio" and appends the JSON line; ref_name may
 * be NULL (no reference, ratio omitted) */
void bench_record(const char *name, double value, const char *unit, const char *ref_name,
                  double ref_value);
/* best-of-windows GFLOP/s of row-major cblas_sgemm C(MxN) = A(MxK) B(KxN), `seconds` total */
double bench_sgemm_gflops(int M, int N, int K, double seconds);
/* the OpenBLAS core name ("Haswell", ...) and thread count in use */
const char *bench_blas_core(void);
int bench_blas_threads(void);

#endif
