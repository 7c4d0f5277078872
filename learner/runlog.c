#include "learner/runlog.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/afile.h"
#include "common/log.h"
#include "common/util.h"

static const char *METRIC_HEADER =
    "step,phase,wall_time,updates_per_s,total_loss,critic_loss,floq_loss,distilled_critic_loss,"
    "critic_q,q_min,q_max,var_flow_returns,td_error,actor_loss,bc_flow_loss,distill_loss,q_loss,"
    "actor_q,mse,val_critic_loss,val_actor_loss,env_steps,online_updates,env_steps_per_s,"
    "received_per_s,queue_depth,learner_wait_s,actor_wait_s,lag_min,lag_mean,lag_max,"
    "online_return,online_success,online_episodes,bad_messages,actors";
/* after METRIC_HEADER: one bad_<reason> column per proto_status but ok, then actors_lost */
#define METRIC_ONLINE_COLS (15 + PROTO_STATUS_COUNT)
static const char *EVAL_HEADER =
    "step,episodes,return_mean,return_se,success_mean,success_se,score_mean,score_se\n";
static const char *ACTORS_HEADER = "step,rank,env_steps,env_steps_per_s,received_per_s,wait_s\n";

/* mkdir -p */
static int mkdirs(const char *path) {
    char tmp[TRAIN_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0777) && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* dir/name opened for appending, with header written when the file is new; NULL on failure */
static FILE *open_csv(const char *dir, const char *name, const char *header) {
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fresh = access(path, F_OK) != 0;
    FILE *f = fopen(path, "a");
    if (f && fresh) {
        fputs(header, f);
        if (header == METRIC_HEADER) {
            for (int k = 1; k < PROTO_STATUS_COUNT; k++) {
                fprintf(f, ",bad_%s", proto_status_name((enum proto_status)k));
            }
            fputs(",actors_lost\n", f);
        }
    }
    return f;
}

/* config.json, atomically: a failed write leaves the previous one and says why */
static int write_config(const struct train_cfg *tc, char *err, size_t errsz) {
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/config.json", tc->run_dir);
    char *json = train_cfg_json(tc);
    if (!json) {
        seterr(err, errsz, "cannot format the config for %s", path);
        return -1;
    }
    struct afile af;
    FILE *f = afile_open(&af, path);
    if (f && fputs(json, f) == EOF) {
        afile_fail(&af, errno);
    }
    free(json);
    return afile_commit(&af, err, errsz);
}

/* a resumed run continues from its checkpoint's step: rows the previous run wrote after it
 * (metrics, evaluations, actor rows) would repeat those steps, so they go, atomically */
static int truncate_csv(const char *dir, const char *name, long max_step, char *err,
                        size_t errsz) {
    char path[TRAIN_PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *in = fopen(path, "r");
    if (!in) {
        return 0; /* nothing written yet */
    }
    struct afile af;
    FILE *out = afile_open(&af, path);
    char line[8192];
    long kept = 0, dropped = 0;
    int first = 1;
    while (fgets(line, sizeof line, in)) {
        char *end;
        long step = strtol(line, &end, 10);
        int keep = first || end == line || *end != ',' || step <= max_step;
        first = 0;
        if (!keep) {
            dropped++;
        } else if (out && fputs(line, out) == EOF) {
            afile_fail(&af, errno);
        } else {
            kept++;
        }
    }
    fclose(in);
    if (dropped == 0) {
        afile_abort(&af);
        return 0;
    }
    if (afile_commit(&af, err, errsz)) {
        return -1;
    }
    log_info("%s: dropped %ld row(s) past step %ld, written after the checkpoint this run "
             "resumes from",
             path, dropped, max_step);
    return 0;
}

int runlog_open(struct runlog *rl, struct train_cfg *tc, long resume_step, char *err,
                size_t errsz) {
    memset(rl, 0, sizeof *rl);
    if (!tc->run_dir[0]) {
        char ts[32];
        time_t now = time(NULL);
        strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", localtime(&now));
        snprintf(tc->run_dir, sizeof tc->run_dir, "%.700s/%.100s.%.8s.s%llu.%.20s", tc->save_dir,
                 tc->env_name, tc->agent, (unsigned long long)tc->seed, ts);
    }
    if (mkdirs(tc->run_dir)) {
        seterr(err, errsz, "cannot create run directory %s: %s", tc->run_dir, strerror(errno));
        return -1;
    }
    snprintf(rl->dir, sizeof rl->dir, "%s", tc->run_dir);
    static const char *const csvs[] = {"metrics.csv", "eval.csv", "actors.csv"};
    for (size_t i = 0; resume_step >= 0 && i < FLOQ_ARRAY_LEN(csvs); i++) {
        if (truncate_csv(rl->dir, csvs[i], resume_step, err, errsz)) {
            return -1;
        }
    }
    if (write_config(tc, err, errsz)) {
        return -1;
    }
    rl->metrics = open_csv(rl->dir, "metrics.csv", METRIC_HEADER);
    rl->eval = open_csv(rl->dir, "eval.csv", EVAL_HEADER);
    if (!rl->metrics || !rl->eval) {
        seterr(err, errsz, "cannot write metrics in %s: %s", rl->dir, strerror(errno));
        runlog_close(rl);
        return -1;
    }
    rl->tty = isatty(2);
    rl->t_start = now_sec();
    rl->total = tc->offline_steps + tc->online_steps;
    return 0;
}

void runlog_close(struct runlog *rl) {
    FILE *files[] = {rl->metrics, rl->eval, rl->actors};
    for (size_t i = 0; i < FLOQ_ARRAY_LEN(files); i++) {
        if (files[i]) {
            fclose(files[i]);
        }
    }
    rl->metrics = rl->eval = rl->actors = NULL;
}

void runlog_metrics(struct runlog *rl, const struct runlog_row *r) {
    const struct agent_metrics *m = r->m;
    const struct online_stats *os = r->os;
    fprintf(rl->metrics,
            "%ld,%s,%.3f,%.3f,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
            "%.6g,%.6g,%.6g,%.6g",
            r->step, r->phase, now_sec() - rl->t_start, r->rate, m->total_loss, m->critic_loss,
            m->floq_loss, m->distilled_critic_loss, m->critic_q, r->q_min, r->q_max,
            m->var_flow_returns, m->td_error, m->actor_loss, m->bc_flow_loss, m->distill_loss,
            m->q_loss, m->actor_q, m->mse, r->val_critic_loss, r->val_actor_loss);
    if (os) {
        fprintf(rl->metrics,
                ",%llu,%llu,%.1f,%.1f,%.4g,%.3f,%.3f,%.3f,%.4g,%.4g,%.6g,%.4g,%llu,%llu,%d",
                (unsigned long long)os->env_steps, (unsigned long long)os->updates,
                os->env_steps_per_s, os->received_per_s, os->queue_depth, os->learner_wait_s,
                os->actor_wait_s, os->lag_min, os->lag_mean, os->lag_max, os->ep_return,
                os->ep_success, (unsigned long long)os->episodes,
                (unsigned long long)os->bad_messages, os->actors);
        for (int k = 1; k < PROTO_STATUS_COUNT; k++) {
            fprintf(rl->metrics, ",%llu", (unsigned long long)os->bad_by[k]);
        }
        fprintf(rl->metrics, ",%d\n", os->actors_lost);
    } else {
        for (int k = 0; k < METRIC_ONLINE_COLS; k++) {
            fputc(',', rl->metrics);
        }
        fputc('\n', rl->metrics);
    }
    fflush(rl->metrics);
    if (!rl->tty) {
        runlog_progress(rl, r->step, r->rate, m, os, 1); /* a log file gets one line per row */
    }
}

void runlog_eval(struct runlog *rl, long step, const struct eval_result *er) {
    fprintf(rl->eval, "%ld,%d,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n", step, er->episodes, er->ret_mean,
            er->ret_se, er->succ_mean, er->succ_se, er->score_mean, er->score_se);
    fflush(rl->eval);
    runlog_progress_end(rl);
    log_info("eval at %ld: return %.3f +- %.3f, success %.3f +- %.3f", step, er->ret_mean,
             er->ret_se, er->succ_mean, er->succ_se);
}

void runlog_actor(struct runlog *rl, long step, int rank, uint64_t env_steps,
                  double env_steps_per_s, double received_per_s, double wait_s) {
    if (!rl->actors && !(rl->actors = open_csv(rl->dir, "actors.csv", ACTORS_HEADER))) {
        return;
    }
    fprintf(rl->actors, "%ld,%d,%llu,%.1f,%.1f,%.3f\n", step, rank, (unsigned long long)env_steps,
            env_steps_per_s, received_per_s, wait_s);
    fflush(rl->actors);
}

void runlog_progress(struct runlog *rl, long step, double rate, const struct agent_metrics *m,
                     const struct online_stats *os, int force) {
    double now = now_sec();
    if (!force && now - rl->last_print < (rl->tty ? 0.5 : 30.0)) {
        return;
    }
    rl->last_print = now;
    double eta = rate > 0 && !os ? (double)(rl->total - step) / rate : 0;
    if (os && os->env_steps_per_s > 0) {
        eta = (double)(rl->total - step) / os->env_steps_per_s;
    }
    int h = (int)(eta / 3600), mi = (int)(fmod(eta, 3600) / 60), s = (int)fmod(eta, 60);
    char extra[160] = "";
    if (os) {
        snprintf(extra, sizeof extra, "  env %.0f/s  lag %.1f  return %.3g  success %.2f",
                 os->env_steps_per_s, os->lag_mean, os->ep_return, os->ep_success);
    }
    fprintf(stderr,
            "%sstep %ld/%ld  %.1f upd/s  ETA %d:%02d:%02d  critic %.4g  actor %.4g  q %.4g%s%s",
            rl->tty ? "\r\033[K" : "", step, rl->total, rate, h, mi, s, m->critic_loss,
            m->actor_loss, m->critic_q, extra, rl->tty ? "" : "\n");
    fflush(stderr);
}

void runlog_progress_end(struct runlog *rl) {
    if (rl->tty) {
        fputc('\n', stderr);
    }
}
