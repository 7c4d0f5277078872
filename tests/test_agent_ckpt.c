/* test_agent_ckpt — an agent's checkpoint (learner/agent_ckpt.c): a bit-exact round trip of
 * parameters, Adam state, target and generators; the view-by-view layout check refusing a
 * checkpoint whose parameters are laid out for another network although the count matches;
 * a checkpoint without the layout entry (older builds) still loads by its count; and
 * --restore_path refusing another network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ckpt.h"
#include "common/mem.h"
#include "learner/agent_ckpt.h"
#include "tests/check.h"

static char g_dir[256];
static char err[1024];

static void tiny(struct train_cfg *tc, int w0, int w1) {
    train_cfg_default(tc, AGENT_FLOQ);
    struct agent_cfg *c = &tc->ac;
    c->obs_dim = 3, c->act_dim = 2, c->batch_size = 4;
    c->n_actor_hidden = c->n_value_hidden = c->block_depth = 2;
    c->actor_hidden[0] = w0, c->actor_hidden[1] = w1;
    c->value_hidden[0] = c->value_hidden[1] = c->block_width = 8;
    c->noise_samples = 2, c->critic_flow_steps = 2;
    snprintf(tc->run_dir, sizeof tc->run_dir, "%s", g_dir);
}

/* the checkpoint at src rewritten to dst with the entry `key` replaced by the string s, or by
 * nb raw bytes when s is NULL and bytes is not (both NULL: dropped) */
static int rewrite_as(const char *src, const char *dst, const char *key, const char *s,
                      const void *bytes, size_t nb) {
    struct ckpt c;
    if (ckpt_load(&c, src, err, sizeof err)) {
        return -1;
    }
    struct ckpt_writer w;
    ckpt_writer_init(&w);
    for (size_t i = 0; i < c.n; i++) {
        const struct ckpt_entry *e = &c.entries[i];
        if (strcmp(e->key, key) == 0) {
            if (s) {
                ckpt_put_str(&w, key, s);
            } else if (bytes) {
                ckpt_put_bytes(&w, key, bytes, nb);
            }
        } else if (e->kind == CKPT_STR) {
            ckpt_put_str(&w, e->key, e->data);
        } else if (e->kind == CKPT_UINT) {
            ckpt_put_u64(&w, e->key, e->u);
        } else if (e->kind == CKPT_F64) {
            ckpt_put_f64(&w, e->key, e->f);
        } else if (e->kind == CKPT_F32) {
            ckpt_put_f32(&w, e->key, e->ndim, e->shape, e->data);
        } else if (e->kind == CKPT_BYTES) {
            ckpt_put_bytes(&w, e->key, e->data, e->count);
        }
    }
    int rc = ckpt_save(&w, dst, err, sizeof err);
    ckpt_writer_free(&w);
    ckpt_free(&c);
    return rc;
}

static int rewrite(const char *src, const char *dst, const char *key, const char *s) {
    return rewrite_as(src, dst, key, s, NULL, 0);
}

static const char *path_of(const char *name) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/test_agent_ckpt.XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* a trained-looking agent: moved weights, Adam state, generators */
    struct train_cfg tc, back;
    tiny(&tc, 8, 6);
    struct agent a, b;
    CHECK(agent_init(&a, &tc.ac, 7, err, sizeof err) == 0, "init: %s", err);
    for (size_t i = 0; i < a.pb.n; i++) {
        a.pb.w[i] += 0.001f * (float)(i % 13), a.pb.m[i] = 0.5f, a.pb.v[i] = 0.25f;
    }
    a.opt.count = 42, a.step = 41;
    struct rng s, d;
    rng_seed(&s, 1), rng_seed(&d, 2);
    CHECK(agent_ckpt_save(&tc, &a, &s, &d, 123, err, sizeof err) == 0, "save: %s", err);
    char ck[512];
    snprintf(ck, sizeof ck, "%s", path_of("checkpoints/ckpt-0000000123.ckpt"));
    struct agent_ckpt_state st;
    CHECK(agent_ckpt_load(&b, &back, ck, 0, &st, err, sizeof err) == 0, "load: %s", err);
    CHECK(b.pb.n == a.pb.n && !memcmp(b.pb.w, a.pb.w, sizeof(float) * a.pb.n) &&
              !memcmp(b.pb.m, a.pb.m, sizeof(float) * a.pb.n) &&
              !memcmp(b.pb.v, a.pb.v, sizeof(float) * a.pb.n) &&
              !memcmp(b.target, a.target, sizeof(float) * a.critic_end) && b.opt.count == 42 &&
              b.step == 41,
          "parameters, Adam state and target round trip bit-exactly");
    CHECK(st.step == 123 && st.has_sampler && st.has_draws && !memcmp(&st.sampler, &s, sizeof s) &&
              !memcmp(&st.draws, &d, sizeof d),
          "step and generators come back");
    CHECK(!strcmp(back.agent, "floq") && back.ac.kind == AGENT_FLOQ &&
              back.ac.actor_hidden[1] == 6 && back.ac.obs_dim == 3,
          "config comes back");
    agent_free(&b);

    /* the same parameter count laid out for another network: refused, naming the view */
    struct train_cfg other;
    tiny(&other, 8, 5);
    struct agent o;
    CHECK(agent_init(&o, &other.ac, 7, err, sizeof err) == 0 && o.pb.n == a.pb.n,
          "actor widths 8,5 and 8,6 give the same parameter count (%zu vs %zu)", o.pb.n, a.pb.n);
    snprintf(other.run_dir, sizeof other.run_dir, "%s/other", g_dir);
    mkdir(other.run_dir, 0755);
    struct rng z = s;
    CHECK(agent_ckpt_save(&other, &o, &z, &z, 5, err, sizeof err) == 0, "save other: %s", err);
    /* the other network's layout under this network's config */
    struct ckpt oc;
    const char *olayout = NULL;
    CHECK(ckpt_load(&oc, path_of("other/checkpoints/ckpt-0000000005.ckpt"), err, sizeof err) == 0 &&
              ckpt_get_str(&oc, "layout", &olayout, err, sizeof err) == 0,
          "other's layout: %s", err);
    CHECK(olayout && strstr(olayout, "actor_onestep_flow/dense0/kernel"),
          "the layout names every view");
    CHECK(rewrite(ck, path_of("swapped.ckpt"), "layout", olayout) == 0, "rewrite: %s", err);
    ckpt_free(&oc);
    CHECK(agent_ckpt_load(&b, &back, path_of("swapped.ckpt"), 0, NULL, err, sizeof err) == -1 &&
              strstr(err, "actor_bc_flow/dense1/kernel") && strstr(err, "swapped.ckpt") &&
              strstr(err, "not the network its config builds"),
          "a layout of another network with the same count is refused: %s", err);
    /* no layout entry (a checkpoint of an older build): checked by count, loads */
    CHECK(rewrite(ck, path_of("old.ckpt"), "layout", NULL) == 0, "rewrite: %s", err);
    CHECK(agent_ckpt_load(&b, &back, path_of("old.ckpt"), 0, NULL, err, sizeof err) == 0 &&
              !memcmp(b.pb.w, a.pb.w, sizeof(float) * a.pb.n),
          "a checkpoint without a layout loads by its count: %s", err);
    agent_free(&b);
    /* a wrong count without a layout: refused */
    struct train_cfg wide;
    tiny(&wide, 9, 6);
    char *json = train_cfg_json(&wide);
    CHECK(rewrite(path_of("old.ckpt"), path_of("count.ckpt"), "config", json) == 0, "rewrite");
    free(json);
    CHECK(agent_ckpt_load(&b, &back, path_of("count.ckpt"), 0, NULL, err, sizeof err) == -1 &&
              strstr(err, "params hold"),
          "a parameter count that differs from the config is refused: %s", err);

    /* --restore_path: the same network is restored, another one refused */
    struct agent fresh;
    CHECK(agent_init(&fresh, &tc.ac, 99, err, sizeof err) == 0, "init");
    CHECK(agent_ckpt_restore(&fresh, ck, err, sizeof err) == 0 &&
              !memcmp(fresh.pb.w, a.pb.w, sizeof(float) * a.pb.n) && fresh.opt.count == 42,
          "restore into the same network: %s", err);
    CHECK(agent_ckpt_restore(&o, ck, err, sizeof err) == -2 && strstr(err, "different network"),
          "restore into another network with the same count: %s", err);
    CHECK(agent_ckpt_restore(&o, path_of("missing.ckpt"), err, sizeof err) == -1,
          "restore from a missing file: %s", err);
    agent_free(&fresh), agent_free(&o), agent_free(&a);
    /* a generator entry of the wrong size is damage (it used to be ignored silently, so the
     * resumed run drew fresh batches); a missing one (older build) loads with fresh streams */
    unsigned char five[5] = {1, 2, 3, 4, 5};
    CHECK(rewrite_as(ck, path_of("rng.ckpt"), "rng_sampler", NULL, five, sizeof five) == 0,
          "rewrite: %s", err);
    CHECK(agent_ckpt_load(&b, &back, path_of("rng.ckpt"), 0, &st, err, sizeof err) == -1 &&
              strstr(err, "rng_sampler") && strstr(err, "rng.ckpt"),
          "a 5-byte rng_sampler is refused: %s", err);
    CHECK(rewrite(ck, path_of("norng.ckpt"), "rng_draws", NULL) == 0, "rewrite: %s", err);
    CHECK(agent_ckpt_load(&b, &back, path_of("norng.ckpt"), 0, &st, err, sizeof err) == 0 &&
              st.has_sampler && !st.has_draws,
          "a checkpoint without rng_draws loads, the draws from a fresh stream: %s", err);
    agent_free(&b);

    /* a config asking for more scratch than any checkpoint of this size needs (2^30 rows of
     * batch x noise samples): refused before agent_init allocates */
    struct train_cfg huge;
    tiny(&huge, 8, 6);
    huge.ac.batch_size = 1 << 20, huge.ac.noise_samples = 1024;
    json = train_cfg_json(&huge);
    CHECK(rewrite(ck, path_of("huge.ckpt"), "config", json) == 0, "rewrite");
    free(json);
    CHECK(agent_ckpt_load(&b, &back, path_of("huge.ckpt"), 0, NULL, err, sizeof err) == -1 &&
              strstr(err, "would allocate") && strstr(err, "huge.ckpt"),
          "a config of 2^30 rows is refused: %s", err);
    /* the estimate agrees with a real agent's size order (tiny network: under 1 MiB) */
    size_t est = agent_init_bytes(&tc.ac);
    CHECK(est > 4 * sizeof(float) * a.pb.n && est < (1u << 20), "estimate %zu bytes", est);

    /* "agent" given twice (found by fuzz_cfg): the defaults came from the first, the label from
     * the last, so a floq config read as fql (or as "", which it then could not read back) */
    json = train_cfg_json(&tc);
    CHECK(json && train_cfg_from_json(&back, json, err, sizeof err) == 0 &&
              !strcmp(back.agent, "floq") && back.ac.kind == AGENT_FLOQ,
          "a written config reads back: %s", err);
    char twice[8192];
    const char *pairs[][2] = {{"fql", "given as \"floq\" and as \"fql\""},
                              {"", "given as \"floq\" and as \"\""}};
    for (int i = 0; i < 2; i++) {
        /* json starts "{\n  \"agent\": \"floq\",": append a second agent key after it */
        const char *rest = json ? strstr(json, "\"floq\",") : NULL;
        CHECK(rest != NULL, "the written config names the agent first");
        if (!rest) {
            break;
        }
        rest += strlen("\"floq\",");
        snprintf(twice, sizeof twice, "%.*s\n  \"agent\": \"%s\",%s", (int)(rest - json), json,
                 pairs[i][0], rest);
        CHECK(train_cfg_from_json(&back, twice, err, sizeof err) == -1 &&
                  strstr(err, pairs[i][1]) && strstr(err, "damaged"),
              "a config naming the agent twice is refused: %s", err);
    }
    free(json);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CHECK(system(cmd) == 0, "cleanup");
    return check_report("test_agent_ckpt");
}
