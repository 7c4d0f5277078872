/* runlog.h — what a run writes: its directory (config.json, metrics.csv, eval.csv,
 * actors.csv) and the progress line on stderr. Formats only; the training loop decides when.
 *
 *   struct runlog rl;
 *   if (runlog_open(&rl, &tc, err, sizeof err)) ...;   // resolves tc.run_dir, writes config.json
 *   runlog_metrics(&rl, &(struct runlog_row){.step = s, .phase = "offline", .m = &ag.metrics});
 *   runlog_progress(&rl, s, rate, &ag.metrics, NULL, 0);
 *   runlog_close(&rl);
 *
 * metrics.csv: one row per logging interval (offline and online; the online columns are empty
 * offline); eval.csv: one row per evaluation; actors.csv: one row per actor rank and logging
 * interval of the online phase. Files of a resumed run are appended to, after the rows past
 * its checkpoint's step are dropped.
 */
#ifndef FLOQ_RUNLOG_H
#define FLOQ_RUNLOG_H

#include <stdint.h>
#include <stdio.h>

#include "learner/agent.h"
#include "learner/eval.h"
#include "learner/online.h"
#include "learner/train_cfg.h"

struct runlog {
    char dir[TRAIN_PATH_MAX];
    FILE *metrics, *eval;
    FILE *actors; /* opened with its first row */
    int tty;      /* stderr is a terminal: the progress line redraws itself */
    double t_start, last_print;
    long total; /* steps of the whole run, for the ETA */
};

/* one metrics.csv row */
struct runlog_row {
    long step;
    const char *phase; /* "offline" or "online" */
    double rate;       /* updates/s over the interval */
    const struct agent_metrics *m;
    double q_min, q_max;                    /* over the last batch's critic values */
    double val_critic_loss, val_actor_loss; /* on the validation split, NAN without one */
    const struct online_stats *os;          /* NULL offline */
};

/* resolves tc->run_dir (default: save_dir/<env>.<agent>.s<seed>.<time>), creates it with its
 * parents, writes config.json atomically, opens metrics.csv and eval.csv (headers when new).
 * resume_step >= 0 (a resumed run): rows of the CSVs past that step are dropped first, so the
 * resumed run does not repeat them. 0, or -1 with one line */
int runlog_open(struct runlog *rl, struct train_cfg *tc, long resume_step, char *err,
                size_t errsz);
void runlog_close(struct runlog *rl);
void runlog_metrics(struct runlog *rl, const struct runlog_row *r);
void runlog_eval(struct runlog *rl, long step, const struct eval_result *er);
void runlog_actor(struct runlog *rl, long step, int rank, uint64_t env_steps,
                  double env_steps_per_s, double received_per_s, double wait_s);
/* "step S/T  rate  ETA  losses [online figures]" at most every 0.5 s on a terminal (redrawn in
 * place), every 30 s otherwise; force prints it now */
void runlog_progress(struct runlog *rl, long step, double rate, const struct agent_metrics *m,
                     const struct online_stats *os, int force);
/* ends the redrawn line on a terminal, so other output starts on a fresh line */
void runlog_progress_end(struct runlog *rl);

#endif
