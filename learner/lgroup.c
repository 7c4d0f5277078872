/* lgroup.c — data-parallel learner ranks (lgroup.h). Every message is a blocking broadcast
 * from the leader on the learner communicator: a fixed header, then what it announces. */
#include "learner/lgroup.h"

#include <string.h>

#include "actor/fault.h"
#include "common/comm.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/pool.h"
#include "common/util.h"
#include "learner/train_cfg.h"

#define LG_MAGIC   0x4c514c46u /* "FLQL" */
#define LG_VERSION 1u

enum lg_cmd { LG_START = 1, LG_UPDATE = 2, LG_END = 3 };

/* what every broadcast starts with; START also checks that the ranks run the same build */
struct lg_head {
    uint32_t magic, version;
    int32_t cmd, B, R, pad;
    uint64_t cfg_bytes, pb_n, critic_end, adam_bytes;
    int64_t step;
};

static struct {
    int led, ended, mismatch;
    float *buf; /* the packed batch and draws of one update */
    size_t cap;
} g;

int lgroup_size(void) {
    return comm_initialized() ? comm_learn_size() : 1;
}

int lgroup_mismatch(void) {
    return g.mismatch;
}

/* an MPI failure between learner ranks leaves them out of step: nothing sensible is left but
 * to end the job (the newest checkpoint holds the last saved state) */
static void learn_fail(const char *what) {
    log_error("learner ranks: MPI failed in %s; ending the job (resume from the newest "
              "checkpoint with --resume RUN_DIR)",
              what);
    comm_abort(1);
}

static void head_bcast(struct lg_head *h) {
    if (comm_learn_bcast(h, sizeof *h)) {
        learn_fail("a broadcast of the leader");
    }
}

static void bcast(void *p, size_t n, const char *what) {
    if (n && comm_learn_bcast(p, n)) {
        learn_fail(what);
    }
}

/* the agent's cross-rank sums (the Q-loss scale, the loss sums) */
static void xsum(void *ctx, double *v, int n) {
    (void)ctx;
    if (comm_learn_sum_doubles(v, n)) {
        learn_fail("the sum of the losses");
    }
}

/* the whole optimiser state, leader -> followers */
static void state_bcast(struct agent *a) {
    bcast(a->pb.w, sizeof(float) * a->pb.n, "the weights");
    bcast(a->pb.m, sizeof(float) * a->pb.n, "the first moments");
    bcast(a->pb.v, sizeof(float) * a->pb.n, "the second moments");
    bcast(a->target, sizeof(float) * a->critic_end, "the target critic");
    bcast(&a->opt, sizeof a->opt, "the optimiser");
}

/* ---- the batch and its draws, packed in one buffer -------------------------------------- */

#define LG_PARTS 13

/* the float counts of the parts, in packing order: obs, act, rew, next_obs, mask, then the
 * draws in struct agent_draws order */
static size_t layout(int B, int R, int O, int A, size_t n[LG_PARTS]) {
    size_t b = (size_t)B, br = (size_t)B * (size_t)R;
    size_t c[LG_PARTS] = {b * O, b * A, b,  b * O, b, br * A, br,
                          br,    br,    b * A, b,  b * A, b * A};
    size_t total = 0;
    for (int i = 0; i < LG_PARTS; i++) {
        n[i] = c[i];
        total += c[i];
    }
    return total;
}

static float *buf_reserve(size_t floats) {
    if (g.cap < floats) {
        mem_free(g.buf);
        g.buf = mem_alloc(sizeof(float) * floats);
        g.cap = floats;
    }
    return g.buf;
}

/* the update itself, the same on every learner rank */
static int update_share(struct agent *a, const struct agent_batch *b, const struct agent_draws *d) {
    int L = comm_learn_size(), l = comm_learn_rank();
    int lo = (int)((long)b->B * l / L), hi = (int)((long)b->B * (l + 1) / L);
    agent_grads_share(a, b, d, lo, hi);
    double t0 = now_sec();
    if (comm_learn_sum(a->pb.g, a->pb.n)) {
        learn_fail("the gradient sum");
    }
    a->t_reduce += now_sec() - t0;
    if (agent_check_grads(a)) {
        return -1; /* the same verdict on every rank: they hold the same sums */
    }
    agent_apply(a);
    a->bad_term[0] = 0;
    if (l == 1 && fault_flip_learner(a->step)) {
        uint32_t bits;
        memcpy(&bits, a->pb.w, sizeof bits);
        bits ^= 1u << 3;
        memcpy(a->pb.w, &bits, sizeof bits);
        log_warn("test fault: learner rank 1 flipped a bit of its weights after update %ld",
                 a->step);
    }
    if (a->step % LGROUP_CHECK_EVERY != 0) {
        return 0;
    }
    uint64_t all[TRAIN_MAX_LEARNER_RANKS];
    FLOQ_ASSERT(L <= TRAIN_MAX_LEARNER_RANKS);
    if (comm_learn_allgather_u64(lgroup_checksum(a), all)) {
        learn_fail("the checksum exchange");
    }
    for (int r = 1; r < L; r++) {
        if (all[r] != all[0]) {
            snprintf(a->bad_term, sizeof a->bad_term,
                     "learner rank %d's parameters differ from rank 0's after update %ld "
                     "(checksum %016llx vs %016llx)",
                     r, a->step, (unsigned long long)all[r], (unsigned long long)all[0]);
            g.mismatch = 1;
            return -2;
        }
    }
    return 0;
}

/* ---- the leader ------------------------------------------------------------------------- */

void lgroup_lead(struct agent *a) {
    if (lgroup_size() == 1) {
        return;
    }
    FLOQ_ASSERT(comm_learn_rank() == 0 && !g.led && !g.ended);
    struct lg_head h = {.magic = LG_MAGIC,
                        .version = LG_VERSION,
                        .cmd = LG_START,
                        .B = a->c.batch_size,
                        .R = a->R,
                        .cfg_bytes = sizeof(a->c),
                        .pb_n = a->pb.n,
                        .critic_end = a->critic_end,
                        .adam_bytes = sizeof(a->opt),
                        .step = (int64_t)a->step};
    head_bcast(&h);
    bcast(&a->c, sizeof a->c, "the agent's config");
    state_bcast(a);
    a->xsum = xsum;
    a->xsum_ctx = NULL;
    g.led = 1;
    log_info("learner ranks: %d, each on %d of the batch's %d transitions with %d thread%s; "
             "parameters compared every %d updates",
             comm_learn_size(), a->c.batch_size / comm_learn_size(), a->c.batch_size,
             a->nthreads, a->nthreads == 1 ? "" : "s", LGROUP_CHECK_EVERY);
}

int lgroup_update(struct agent *a, const struct agent_batch *b, const struct agent_draws *d) {
    if (!g.led) {
        return agent_update(a, b, d);
    }
    int O = a->c.obs_dim, A = a->c.act_dim;
    size_t n[LG_PARTS];
    size_t total = layout(b->B, d->R, O, A, n);
    float *buf = buf_reserve(total);
    const float *src[LG_PARTS] = {b->obs,
                                  b->act,
                                  b->rew,
                                  b->next_obs,
                                  b->mask,
                                  d->next_action_noise,
                                  d->next_noise_ratios,
                                  d->noise_ratios,
                                  d->critic_t,
                                  d->actor_x0,
                                  d->actor_t,
                                  d->distill_noise,
                                  d->mse_noise};
    size_t off = 0;
    for (int i = 0; i < LG_PARTS; i++) {
        memcpy(buf + off, src[i], sizeof(float) * n[i]);
        off += n[i];
    }
    struct lg_head h = {.magic = LG_MAGIC,
                        .version = LG_VERSION,
                        .cmd = LG_UPDATE,
                        .B = b->B,
                        .R = d->R,
                        .step = (int64_t)a->step};
    head_bcast(&h);
    bcast(buf, sizeof(float) * total, "the batch");
    return update_share(a, b, d);
}

void lgroup_end(void) {
    if (lgroup_size() == 1 || g.ended || comm_learn_rank() != 0) {
        return;
    }
    struct lg_head h = {.magic = LG_MAGIC, .version = LG_VERSION, .cmd = LG_END};
    head_bcast(&h);
    g.ended = 1;
    mem_free(g.buf);
    g.buf = NULL, g.cap = 0;
}

/* ---- a follower ------------------------------------------------------------------------- */

static _Noreturn void follow_fail(const char *why) {
    log_error("learner rank %d: %s; every learner rank must run the same floq build", comm_rank(),
              why);
    comm_abort(1);
}

int lgroup_follow(int argc, char **argv) {
    /* the same flags as the leader, which reports any error in them (and ends the job) */
    struct train_cfg tc;
    char err[512];
    int threads = 0;
    if (train_cfg_parse(&tc, argc, argv, err, sizeof err) == 0) {
        threads = tc.learner_threads;
    } else {
        log_debug("learner rank %d: %s", comm_rank(), err);
    }
    if (threads <= 0) {
        threads = pool_cores();
    }
    struct lg_head h;
    head_bcast(&h);
    if (h.magic != LG_MAGIC || h.version != LG_VERSION) {
        follow_fail("the leader's first message is not a learner-rank start (another version?)");
    }
    if (h.cmd == LG_END) {
        return 0; /* the leader ended before it started (an error it reports, or --help) */
    }
    struct agent_cfg cfg;
    if (h.cmd != LG_START || h.cfg_bytes != sizeof cfg || h.adam_bytes != sizeof(struct adam)) {
        follow_fail("the leader's config does not match this build's");
    }
    bcast(&cfg, sizeof cfg, "the agent's config");
    struct agent ag;
    if (agent_init(&ag, &cfg, 0, err, sizeof err)) {
        follow_fail(err);
    }
    if (ag.pb.n != h.pb_n || ag.critic_end != h.critic_end) {
        follow_fail("the leader's parameter layout differs from this build's");
    }
    state_bcast(&ag);
    ag.step = (long)h.step;
    if (agent_set_threads(&ag, threads, err, sizeof err)) {
        log_warn("learner rank %d: --learner_threads=%d: %s; using %d", comm_rank(), threads, err,
                 ag.nthreads);
    }
    ag.xsum = xsum;
    int O = cfg.obs_dim, A = cfg.act_dim;
    long updates = 0;
    for (;;) {
        head_bcast(&h);
        if (h.magic != LG_MAGIC || (h.cmd != LG_UPDATE && h.cmd != LG_END)) {
            follow_fail("an unknown message from the leader");
        }
        if (h.cmd == LG_END) {
            break;
        }
        if (h.B < 1 || h.B > ag.maxB || h.R != ag.R) {
            follow_fail("a batch this agent was not built for");
        }
        size_t n[LG_PARTS];
        size_t total = layout(h.B, h.R, O, A, n);
        float *buf = buf_reserve(total);
        bcast(buf, sizeof(float) * total, "the batch");
        float *p[LG_PARTS];
        size_t off = 0;
        for (int i = 0; i < LG_PARTS; i++) {
            p[i] = buf + off;
            off += n[i];
        }
        struct agent_batch b = {h.B, p[0], p[1], p[2], p[3], p[4]};
        struct agent_draws d = {h.B,  h.R,  A,     p[5],  p[6], p[7],
                                p[8], p[9], p[10], p[11], p[12]};
        if (update_share(&ag, &b, &d) == -2) {
            log_error("learner rank %d: %s", comm_rank(), ag.bad_term);
        }
        updates++;
    }
    log_info("learner rank %d: %ld updates on its share of the batch", comm_rank(), updates);
    agent_free(&ag);
    mem_free(g.buf);
    g.buf = NULL, g.cap = 0;
    return 0;
}

/* ---- the checksum ----------------------------------------------------------------------- */

static uint64_t mix_words(uint64_t h, const void *p, size_t bytes) {
    const unsigned char *c = p;
    for (size_t i = 0; i < bytes; i += 8) {
        uint64_t w = 0;
        memcpy(&w, c + i, FLOQ_MIN((size_t)8, bytes - i));
        /* each step is a bijection of h for a given word: one differing word always shows */
        h ^= w;
        h *= 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    return h;
}

uint64_t lgroup_checksum(const struct agent *a) {
    uint64_t h = 0xcbf29ce484222325ull;
    h = mix_words(h, a->pb.w, sizeof(float) * a->pb.n);
    h = mix_words(h, a->pb.m, sizeof(float) * a->pb.n);
    h = mix_words(h, a->pb.v, sizeof(float) * a->pb.n);
    h = mix_words(h, a->target, sizeof(float) * a->critic_end);
    int64_t step = a->step, count = a->opt.count;
    h = mix_words(h, &step, sizeof step);
    return mix_words(h, &count, sizeof count);
}
