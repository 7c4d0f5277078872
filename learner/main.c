/* floq — one program, subcommands: train, q, eval, collect, bench.
 *   mpirun -np N build/floq train ...   rank 0 = learner, ranks 1..N-1 = actors */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bench.h"
#include "common/cfg.h"
#include "common/mem.h"
#include "common/rng.h"
#include "common/log.h"
#include "common/proto.h"
#include "common/util.h"
#include "envs/collect.h"
#include "envs/env.h"
#include "learner/bench_learner.h"
#include "learner/bench_online.h"
#include "common/comm.h"
#include "learner/landscape.h"
#include "learner/plot.h"
#include "learner/train.h"

#define FLOQ_VERSION "0.1.0"

static int bench_main(int argc, char **argv) {
    char only[256] = "nn,learner,envs,actor,proto";
    float seconds = 3.0f;
    char err[512];
    struct cfg_opt o[] = {
        CFG_STR("only", only, sizeof only, "comma-separated sections: nn, learner, envs, actor, proto, bcast (bcast needs mpirun)"),
        CFG_FLOAT("seconds", &seconds, 0.1, 3600, "time budget per measurement"),
    };
    int n = (int)FLOQ_ARRAY_LEN(o);
    if (cfg_wants_help(argc, argv)) {
        printf("usage: floq bench [--only nn,learner,envs,proto] [--seconds S]\n"
               "Each figure is printed with a reference measured in the same run and their ratio,\n"
               "and appended as one JSON line to $FLOQ_BENCH_JSONL (default build/bench.jsonl).\n");
        cfg_help(stdout, o, n);
        return 0;
    }
    if (cfg_parse(o, n, argc, argv, err, sizeof err)) {
        fprintf(stderr, "floq bench: %s\n", err);
        return 2;
    }
    const char *valid[] = {"nn", "learner", "envs", "actor", "proto", "bcast"};
    int mpi = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK");
    if (mpi && comm_init(NULL, NULL)) {
        fprintf(stderr, "floq bench: MPI failed to start\n");
        return 1;
    }
    if (mpi && comm_rank() != 0) {
        /* non-root ranks take part in the collective sections only */
        if (strstr(only, "bcast")) {
            bench_bcast(seconds);
        }
        comm_finalize();
        return 0;
    }
    char *save = NULL, *tok = strtok_r(only, ",", &save);
    for (; tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "nn") == 0) {
            bench_nn(seconds);
        } else if (strcmp(tok, "learner") == 0) {
            bench_learner(seconds);
        } else if (strcmp(tok, "envs") == 0) {
            bench_envs();
        } else if (strcmp(tok, "proto") == 0) {
            bench_proto();
        } else if (strcmp(tok, "actor") == 0) {
            bench_actor(seconds);
        } else if (strcmp(tok, "bcast") == 0) {
            bench_bcast(seconds);
        } else {
            int c = closest_name(tok, valid, 6);
            fprintf(stderr, "floq bench: unknown section '%s'; did you mean '%s'?\n", tok,
                    valid[c]);
            return 2;
        }
    }
    if (mpi) {
        comm_finalize();
    }
    return 0;
}

/* --policy checkpoint:FILE for floq collect: the checkpoint's acting policy,
 * a = clip(mu(s, eps), -1, 1) with fresh eps; collect adds its noise on top */
struct ckpt_policy {
    struct agent ag;
    struct rng rng;
    float *eps;
    int cap;
};

static void ckpt_act(void *ctx, const float *obs, int E, float *actions) {
    struct ckpt_policy *p = ctx;
    int A = p->ag.c.act_dim;
    if (E > p->cap) {
        mem_free(p->eps);
        p->eps = mem_alloc(sizeof(float) * (size_t)E * A);
        p->cap = E;
    }
    rng_fill_normal(&p->rng, p->eps, (size_t)E * A);
    agent_act(&p->ag, obs, p->eps, E, actions);
}

static int ckpt_policy_load(const char *file, const struct env_info *info,
                            struct collect_policy *pol, char *err, size_t errsz) {
    struct ckpt_policy *p = mem_alloc(sizeof *p);
    struct train_cfg tc;
    if (train_load_agent(&p->ag, &tc, file, 0, NULL, err, errsz)) {
        mem_free(p);
        return -1;
    }
    if (p->ag.c.obs_dim != info->obs_dim || p->ag.c.act_dim != info->act_dim) {
        snprintf(err, errsz,
                 "collect: checkpoint %s has obs %d / action %d but env %s has obs %d / action %d",
                 file, p->ag.c.obs_dim, p->ag.c.act_dim, info->name, info->obs_dim,
                 info->act_dim);
        agent_free(&p->ag);
        mem_free(p);
        return -1;
    }
    rng_seed(&p->rng, tc.seed + 7);
    pol->act = ckpt_act;
    pol->ctx = p;
    return 0;
}

static void ckpt_policy_release(struct collect_policy *pol) {
    struct ckpt_policy *p = pol->ctx;
    if (p) {
        agent_free(&p->ag);
        mem_free(p->eps);
        mem_free(p);
        pol->ctx = NULL;
    }
}

/* collect_main takes argv[0] = its own name */
static int collect_cmd(int argc, char **argv) {
    collect_set_checkpoint_loader(ckpt_policy_load, ckpt_policy_release);
    return collect_main(argc + 1, argv - 1);
}

struct subcommand {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct subcommand CMDS[] = {
    {"train", train_main, "offline floq/FQL training, then online fine-tuning (mpirun for actors)"},
    {"q", q_main, "print Q(s,a) from a checkpoint, any number of integration steps"},
    {"eval", eval_main, "evaluate a checkpoint's policy: success rate / return / D4RL score"},
    {"landscape", landscape_main, "value landscape of a point-maze checkpoint vs the closed-form optimum"},
    {"plot", plot_main, "draw learning curves and value landscapes of runs into a PNG (gnuplot)"},
    {"collect", collect_cmd, "generate an OGBench-format dataset (random / expert / checkpoint)"},
    {"bench", bench_main, "benchmarks against same-run references (sgemm, mj_step, memcpy)"},
};

static void usage(FILE *f) {
    fprintf(f, "floq %s — flow-matching Q-functions (arXiv 2509.06863) in C\n\n"
               "usage: floq SUBCOMMAND [flags]     (floq SUBCOMMAND --help for its flags)\n\n",
            FLOQ_VERSION);
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(CMDS); i++) {
        fprintf(f, "  %-10s %s\n", CMDS[i].name, CMDS[i].help);
    }
    fprintf(f, "\nexample: floq collect --env_name pointmaze-medium-navigate-v0 --policy expert "
               "--episodes 100 --out data.npz\n"
               "         floq train --env_name pointmaze-medium-navigate-singletask-task1-v0 "
               "--dataset data.npz --preset small\n");
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("floq %s\n", FLOQ_VERSION);
        return 0;
    }
    const char *names[FLOQ_ARRAY_LEN(CMDS)];
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(CMDS); i++) {
        names[i] = CMDS[i].name;
        if (strcmp(argv[1], CMDS[i].name) == 0) {
            return CMDS[i].fn(argc - 2, argv + 2);
        }
    }
    int c = closest_name(argv[1], names, (int)FLOQ_ARRAY_LEN(CMDS));
    fprintf(stderr, "floq: unknown subcommand '%s'; did you mean '%s'? (floq --help lists them)\n",
            argv[1], names[c]);
    return 2;
}
