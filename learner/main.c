/* main.c — floq's entry: the subcommand table (train, q, eval, landscape, collect, bench) and,
 * for `floq train` under a launcher, the role of this rank:
 *   mpirun -np N build/floq train ...   rank 0 = learner (train.h), ranks 1..N-1 = actors
 *                                       (actor_rank.h)
 *   ... --learner_ranks L               ranks 0..L-1 learners (lgroup.h: 0 leads, the others
 *                                       share each update), L..N-1 actors */
#include <stdio.h>
#include <string.h>

#include "actor/actor_rank.h"
#include "common/cfg.h"
#include "common/comm.h"
#include "common/sig.h"
#include "common/util.h"
#include "learner/bench.h"
#include "learner/collect_ckpt.h"
#include "learner/eval.h"
#include "learner/landscape.h"
#include "learner/lgroup.h"
#include "learner/online.h"
#include "learner/plot.h"
#include "learner/q.h"
#include "learner/train.h"
#include "learner/train_cfg.h"

#define FLOQ_VERSION "0.1.0"

/* floq train: the role comes from the rank, 0 the learner, the others actors; without a
 * launcher, one process whose actor runs inline */
static int train_cmd(int argc, char **argv) {
    if (cfg_wants_help(argc, argv) || !comm_launched()) {
        sig_install(); /* SIGTERM/SIGUSR1/SIGINT: a checkpoint, then exit 3 */
        return train_main(argc, argv);
    }
    if (comm_init(NULL, NULL)) {
        fprintf(stderr, "floq train: MPI failed to start\n");
        return 1;
    }
    /* after MPI_Init, so these handlers are the ones; actor ranks (and learner ranks 1..L-1)
     * keep acting on a first signal (the learner stops them), and every rank exits at once on a
     * second */
    sig_install();
    /* ranks 0..L-1 learn (--learner_ranks L, learner/lgroup.h), L..N-1 act */
    int L = train_cfg_learner_ranks(argc, argv);
    if (comm_rank() < L && comm_learn_init(L)) {
        fprintf(stderr, "floq train: rank %d: the learner ranks' communicator failed\n",
                comm_rank());
        comm_abort(1);
    }
    int rc;
    if (comm_rank() == 0) {
        rc = train_main(argc, argv);
        if (rc != 0 && rc != TRAIN_EXIT_INTERRUPTED && comm_size() > 1) {
            fprintf(stderr, "floq train: the learner failed (exit %d); stopping every rank\n", rc);
            fflush(stderr);
            comm_abort(rc);
        }
        lgroup_end(); /* the other learner ranks end too */
    } else if (comm_rank() < L) {
        rc = lgroup_follow(argc, argv);
    } else {
#ifdef FLOQ_FAULT_INJECTION
        /* the test build: actor ranks arm their faults from the train flags (actor/fault.h) */
        struct train_cfg tc;
        char err[512];
        train_cfg_parse(&tc, argc, argv, err, sizeof err);
#endif
        rc = actor_rank_main(); /* what to run comes in the learner's SETUP message */
    }
    if (comm_rank() == 0) {
        /* an actor rank that did not answer END may never reach MPI_Finalize: the learner's
         * work is saved, so it ends the job, before any rank is inside MPI_Finalize (Open MPI's
         * launcher can hang aborting a job with a rank there). MPI_Finalize itself is watched
         * too. */
        double deadline;
        const char *why = online_unfinished(&deadline);
        int code = rc ? rc : TRAIN_EXIT_UNFINISHED;
        if (why) {
            fprintf(stderr, "floq train: %s; ending the job (exit %d)\n", why, code);
            fflush(stderr);
            comm_abort(code);
        }
        comm_finalize(deadline, code, "an actor rank has not finished");
    } else {
        comm_finalize(0, 0, NULL);
    }
    sig_done(rc);
    return rc;
}

struct subcommand {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
};

static const struct subcommand CMDS[] = {
    {"train", train_cmd, "offline floq/FQL training, then online fine-tuning (mpirun for actors)"},
    {"q", q_main, "print Q(s,a) from a checkpoint, any number of integration steps"},
    {"eval", eval_main, "evaluate a checkpoint's policy: success rate / return / D4RL score"},
    {"landscape", landscape_main,
     "value landscape of a point-maze checkpoint vs the closed-form optimum"},
    {"plot", plot_main, "draw learning curves and value landscapes of runs into a PNG (gnuplot)"},
    {"collect", collect_ckpt_main,
     "generate an OGBench-format dataset (random / expert / checkpoint)"},
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
