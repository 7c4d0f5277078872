/* hlgauss.h — the flow critic's input embeddings, as the official code computes them
 * (floq-spec.md §3.1-3.2; not as the paper's prose says).
 *
 * HL-Gauss: N = num_bins edges c_j = q_min + j (q_max - q_min)/(N-1), sigma_a = sigma * bin
 * width; hl(z)_j = (F_{j+1} - F_j)/(F_{N-1} - F_0), F_j = erf((c_j - z)/(sqrt2 sigma_a)),
 * j = 0..N-2: N-1 features that sum to 1. Far outside the support (denominator < 1e-12) it is
 * a one-hot on the nearest edge bin (spec P17).
 *
 *   struct hlgauss h;  hlgauss_init(&h, q_min, q_max, 51, 16.0f);
 *   hlgauss_embed(&h, z, B, out, ld);     // out row b at out + b*ld, N-1 floats
 *   float tau = time_embed_cos(t);        // cos(t): the released code's single feature
 */
#ifndef FLOQ_HLGAUSS_H
#define FLOQ_HLGAUSS_H

#define HLGAUSS_MAX_BINS 1024

struct hlgauss {
    int nbins;          /* edges N; features N-1 */
    float q_min, q_max, sigma;
    float edge[HLGAUSS_MAX_BINS]; /* c_j */
    float inv_scale;    /* 1 / (sqrt2 sigma_a) */
};

void hlgauss_init(struct hlgauss *h, float q_min, float q_max, int nbins, float sigma);
/* out[b*ld + j] for b < B, j < nbins-1 */
void hlgauss_embed(const struct hlgauss *h, const float *z, int B, float *out, int ld);

enum time_embed { TIME_EMBED_COS = 0, TIME_EMBED_FOURIER = 1, TIME_EMBED_RAW = 2 };
#define TIME_FOURIER_DIM 64
/* width of the time features */
int time_embed_dim(int kind);
/* writes time_embed_dim(kind) features of t to out */
void time_embed(int kind, float t, float *out);

#endif
