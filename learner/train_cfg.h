/* train_cfg.h — the configuration of `floq train`: defaults, presets (paper, small, tiny), the
 * per-task table of the reference's README commands, the flags, and the resolved config as the
 * flat JSON of config.json and of a checkpoint's "config" entry.
 *
 *   struct train_cfg tc;
 *   if (train_cfg_parse(&tc, argc, argv, err, sizeof err)) ...;  // exit 2
 *   char *json = train_cfg_json(&tc);                            // free() it
 *
 * Precedence: the agent's defaults (spec §8.1) -> --preset -> the task table (spec §8.2) ->
 * the flags. Flag names are the reference's; its flags floq does not use are accepted for
 * compatibility (cfg.h CFG_IGNORED, CFG_OFF) and stored nowhere.
 */
#ifndef FLOQ_TRAIN_CFG_H
#define FLOQ_TRAIN_CFG_H

#include <stdint.h>
#include <stdio.h>

#include "common/cfg.h"
#include "learner/agent.h"

#define TRAIN_PATH_MAX     1024
#define TRAIN_CFG_MAX_OPTS 96

/* --learner_ranks at most */
#define TRAIN_MAX_LEARNER_RANKS 1024

struct train_cfg {
    char agent[16]; /* floq | fql */
    char env_name[128];
    char dataset[TRAIN_PATH_MAX];
    char save_dir[TRAIN_PATH_MAX];
    char run_dir[TRAIN_PATH_MAX]; /* resolved; --run_dir overrides the generated name */
    char resume[TRAIN_PATH_MAX];
    char restore_path[TRAIN_PATH_MAX];
    char project_name[64], run_group[64]; /* labels kept in config.json */
    char preset[16];                      /* paper | small | tiny */
    uint64_t seed;
    long offline_steps, online_steps, buffer_size;
    long log_interval, eval_interval, save_interval;
    int keep_checkpoints; /* newest checkpoints kept in RUN/checkpoints (0: all) */
    int eval_episodes;
    /* online (actor-learner) */
    float utd;
    long sync_interval;
    int num_envs;
    long start_online_after; /* minimum fill of online transitions before updates */
    int lockstep;            /* policy lag 0: one update per transition, weights every update */
    float peer_timeout; /* seconds an actor rank may keep the learner waiting (docs/online.md) */
    int learner_threads;     /* update threads; 0: the cores this process may use */
    int learner_ranks;       /* data-parallel learner ranks 0..L-1 (learner/lgroup.h) */
    struct agent_cfg ac;
};

/* every default of the agent kind (enum agent_kind) and of the run */
void train_cfg_default(struct train_cfg *tc, int kind);
/* the flag table over tc's fields into o[TRAIN_CFG_MAX_OPTS] (in the test build also the fault
 * flags of actor/fault.h); returns the number of options */
int train_cfg_opts(struct train_cfg *tc, struct cfg_opt *o);
/* defaults -> preset -> task table -> flags; 0, or -1 with one line naming the flag */
/* --learner_ranks from the command line alone, before MPI roles are known (every rank of the job
 * calls it on the same argv): L, or 1 when absent or not a count (train_cfg_parse on the leader
 * then names the error) */
int train_cfg_learner_ranks(int argc, char **argv);
int train_cfg_parse(struct train_cfg *tc, int argc, char **argv, char *err, size_t errsz);
/* usage and every flag with its default */
void train_cfg_usage(FILE *f);
/* --resume: this command line's flags on top of a run's saved config; -1 when a flag is bad or
 * would change the agent (its networks and optimiser come from the checkpoint) */
int train_cfg_resume(struct train_cfg *saved, int argc, char **argv, char *err, size_t errsz);
/* the resolved config as flat JSON (malloc'd; free() it), or NULL */
char *train_cfg_json(const struct train_cfg *tc);
/* reads what train_cfg_json wrote (unknown keys are ignored); 0 or -1 with a message */
int train_cfg_from_json(struct train_cfg *tc, const char *json, char *err, size_t errsz);

#endif
