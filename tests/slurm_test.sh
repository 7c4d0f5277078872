#!/usr/bin/env bash
# slurm_test — `sbatch hostfiles/floq.sbatch` on a real single-node SLURM cluster.
# Starts a private cluster (munged if it is not running, slurmctld, slurmd) whose config, state,
# logs and ports live in $FLOQ_SLURM_DIR (default /tmp/floq-slurm), so /etc/slurm and any
# cluster already running here are left alone. With a tiny-v0 dataset made by floq collect, it
# submits the batch script four times (3 ranks each, -O as this machine may have fewer cores):
#   1. srun --mpi=pmix launcher, 500 offline + 3000 online steps: JobState COMPLETED, ExitCode
#      0:0, "online: 3000 transitions received", both actors' summaries, the final checkpoint;
#   2. the same with FLOQ_LAUNCHER=mpirun (mpirun inside the allocation);
#   3. a long run whose actor rank 2 gets SIGKILL once online fine-tuning runs: the whole job
#      ends FAILED with a non-zero exit code within 45 s (srun sends the other ranks SIGTERM:
#      the learner writes a checkpoint first; the rest ends within SLURM's KillWait) and is not
#      requeued;
#   4. resubmitted into run 3's directory: the script resumes the newest checkpoint (the one
#      written on SIGTERM) and finishes the online phase, with the checks of 1;
#   5. an offline run sent SIGUSR1 as at its time limit (--signal=B:USR1@120): floq writes a
#      checkpoint and exits 3, the script requeues the job, and the requeued job resumes and
#      ends with parameters identical to an uninterrupted run of the same seed.
# On exit it cancels its job, stops the daemons it started and keeps the job outputs in
# $FLOQ_SLURM_DIR/last. The directory belongs to the test: daemons left there by an interrupted
# run are stopped and restarted. Concurrent runs take turns (flock).
# Needs root (it starts daemons) and slurm-wlm, which it installs with apt-get when missing.
# Usage: tests/slurm_test.sh [build-dir]   (about 20 s on 2 idle cores; 1 min with build/asan)
# Overrides: FLOQ_SLURM_DIR, FLOQ_SLURM_PORT (slurmctld; slurmd uses +1; default 6917),
# FLOQ_SLURM_TIMEOUT (seconds per job, default 120).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
case $build in /*) ;; *) build=$root/$build ;; esac
D=${FLOQ_SLURM_DIR:-/tmp/floq-slurm}
port=${FLOQ_SLURM_PORT:-6917}
job_timeout=${FLOQ_SLURM_TIMEOUT:-120}
# a caller inside a SLURM job (or with sbatch defaults set) must not steer our submissions
for v in $(compgen -e); do
    case $v in SLURM_* | SBATCH_* | SALLOC_* | SRUN_*) unset "$v" ;; esac
done
unset FLOQ_LAUNCHER FLOQ_LEARNER_THREADS FLOQ_LEARNER_RANKS FLOQ_RUN_DIR
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { if eval "$1"; then ok; else bad "$2"; fi; }
finish() {
    echo "slurm_test: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
}

# ---- prerequisites: root, slurm-wlm, the floq binary
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v slurmctld >/dev/null; then
        bad "slurm-wlm is not installed: run 'sudo make setup' or 'sudo apt-get install slurm-wlm'," \
            "then run this test as root (it starts munged, slurmctld and slurmd)"
    else
        bad "this test starts a private cluster (munged, slurmctld, slurmd) and needs root:" \
            "sudo bash tests/slurm_test.sh ${1:-build}"
    fi
    finish
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "slurm_test: slurm-wlm is missing; installing it (apt-get install slurm-wlm)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q slurm-wlm \
        >/tmp/floq-slurm-apt.log 2>&1 ||
        { bad "apt-get install slurm-wlm failed (log /tmp/floq-slurm-apt.log); run apt-get update first?"; finish; }
fi
if [ ! -x "$build/floq" ]; then
    bad "$build/floq is missing; run make"
    finish
fi

# ---- the private cluster: one lock per directory, so concurrent runs take turns
mkdir -p "$D/etc" "$D/spool/ctld" "$D/spool/d" "$D/log" "$D/run"
exec 9>"$D/lock"
if ! flock -w 600 9; then
    bad "another slurm_test holds $D/lock for 10 minutes"
    finish
fi
export SLURM_CONF=$D/etc/slurm.conf
H=$(hostname -s)
T=$(mktemp -d)
started_munge=0
running_job=

alive() {  # pid: running and not a zombie (no procps needed)
    local st
    st=$(sed -E 's/.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) && [ -n "$st" ] && [ "$st" != Z ]
}
ours() {  # pid-file: prints the pid if it is alive and a daemon of this cluster
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
        grep -qF -- "$SLURM_CONF" && echo "$pid"
}
stop_daemon() {  # pid-file: SIGTERM, then SIGKILL after 5 s
    local pid
    pid=$(ours "$1") || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
        alive "$pid" || break
        sleep 0.1
    done
    alive "$pid" && kill -9 "$pid" 2>/dev/null
    rm -f "$1"
}
cancel_job() {  # scancel the running job and wait (15 s at most) until its processes are gone
    [ -n "$running_job" ] || return 0
    scancel "$running_job" 2>/dev/null
    for _ in $(seq 75); do
        scontrol -o show job "$running_job" 2>/dev/null | grep -qE 'JobState=(RUNNING|COMPLETING|PENDING|CONFIGURING)' || break
        sleep 0.2
    done
    running_job=
}
# shellcheck disable=SC2317  # (called through the EXIT trap)
cleanup() {
    cancel_job
    stop_daemon "$D/run/slurmd.pid"
    stop_daemon "$D/run/slurmctld.pid"
    if [ "$started_munge" = 1 ]; then
        kill "$(cat /run/munge/munged.pid 2>/dev/null)" 2>/dev/null
    fi
    rm -rf "$D/last"
    mkdir -p "$D/last" && cp "$T"/*.out "$D/last/" 2>/dev/null  # job outputs, for a look afterwards
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# leftovers of an interrupted run: stop them and start clean (slurmctld -c drops old jobs)
stop_daemon "$D/run/slurmd.pid"
stop_daemon "$D/run/slurmctld.pid"
cat >"$SLURM_CONF" <<EOF
# written by tests/slurm_test.sh: a private single-node cluster
ClusterName=floqtest
SlurmctldHost=$H(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
StateSaveLocation=$D/spool/ctld
SlurmdSpoolDir=$D/spool/d
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
PlugStackConfig=$D/etc/plugstack.conf
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
JobAcctGatherType=jobacct_gather/none
NodeName=$H NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=floqtest Nodes=$H Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
: >"$D/etc/plugstack.conf"
t_up=$SECONDS
if ! munge -n >/dev/null 2>&1; then
    mkdir -p /run/munge && chown munge:munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then runuser -u munge -- mungekey --create; fi
    runuser -u munge -- /usr/sbin/munged && started_munge=1
    munge -n >/dev/null 2>&1 || { bad "munged does not answer (munge -n)"; finish; }
fi
/usr/sbin/slurmctld -c -f "$SLURM_CONF" || { bad "slurmctld did not start"; tail -n 20 "$D/log/slurmctld.log"; finish; }
/usr/sbin/slurmd -c -f "$SLURM_CONF" -N "$H" || { bad "slurmd did not start"; tail -n 20 "$D/log/slurmd.log"; finish; }
state=
for _ in $(seq 100); do
    state=$(sinfo -h -n "$H" -o %t 2>/dev/null)
    case $state in idle | mix | alloc) break ;; esac
    sleep 0.2
done
case $state in
    idle | mix | alloc) ok ;;
    *) bad "node $H not idle after 20 s (sinfo state '$state')"
       tail -n 20 "$D/log/slurmctld.log" "$D/log/slurmd.log"; finish ;;
esac
echo "cluster up in $((SECONDS - t_up)) s: $(sinfo -h -o '%P %a %D %t %N %c cpus')"

# ---- a tiny dataset; job helpers
if ! "$build/floq" collect --env_name tiny-v0 --policy random --episodes 100 \
    --out "$T/tiny.npz" 2>"$T/collect.log"; then
    bad "floq collect tiny-v0"; cat "$T/collect.log"; finish
fi
export FLOQ_BIN=$build/floq FLOQ_ENV=tiny-v0 FLOQ_DATASET=$T/tiny.npz
export FLOQ_OFFLINE_STEPS=500 FLOQ_ONLINE_STEPS=3000
export FLOQ_ARGS="--preset tiny --log_interval 500 --eval_interval 0 --actor.num_envs 4"
jid=; jstate=; jexit=; t_end=0
submit() {  # name, extra sbatch flags...: sets jid; output in $T/name.out
    local name=$1; shift
    jid=$(sbatch --parsable -n 3 -O --time=5 -J "floq-$name" -o "$T/$name.out" "$@" \
        hostfiles/floq.sbatch 2>"$T/$name.sbatch.err")
    if ! [[ $jid =~ ^[0-9]+$ ]]; then
        bad "$name: sbatch refused the job: $(cat "$T/$name.sbatch.err")"
        jid=
        return 1
    fi
    running_job=$jid
}
wait_job() {  # name, timeout s: polls scontrol until the job ends; sets jstate, jexit, t_end
    local name=$1 limit=$2 t0=$SECONDS line
    while :; do
        line=$(scontrol -o show job "$jid" 2>/dev/null)
        jstate=$(sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' <<<"$line")
        jexit=$(sed -nE 's/.* ExitCode=([0-9]+:[0-9]+).*/\1/p' <<<"$line")
        case $jstate in
            PENDING | RUNNING | CONFIGURING | COMPLETING | "") ;;
            *) break ;;
        esac
        if [ $((SECONDS - t0)) -ge "$limit" ]; then
            bad "$name: job $jid still $jstate after $limit s; cancelled"
            show_out "$name"
            cancel_job
            return 1
        fi
        sleep 0.2
    done
    t_end=$SECONDS
    running_job=
    echo "$name: job $jid $jstate, exit $jexit, $((SECONDS - t0)) s"
}
submit_wait() {  # name, extra sbatch flags...
    submit "$@" && wait_job "$1" "$job_timeout"
}
show_out() {  # name
    echo "--- $1.out (tail)"; tail -n 15 "$T/$1.out" 2>/dev/null
    echo "--- slurmd.log (tail)"; tail -n 5 "$D/log/slurmd.log"
}
check_run() {  # name, run dir: a finished offline+online run
    local name=$1 run=$2 before=$fail ck
    check "[ '$jstate' = COMPLETED ]" "$name: JobState $jstate, expected COMPLETED"
    check "[ '$jexit' = 0:0 ]" "$name: ExitCode $jexit, expected 0:0"
    check "grep -q 'online: ${want:-3000} transitions received' '$T/$name.out'" \
        "$name: the online phase did not finish (no 'online: ${want:-3000} transitions received')"
    check "grep -q ' 0 bad messages dropped' '$T/$name.out'" "$name: bad messages dropped"
    check "grep -q '^\[r1 .*actor 1: ' '$T/$name.out' && grep -q '^\[r2 .*actor 2: ' '$T/$name.out'" \
        "$name: no summary line from actor ranks 1 and 2"
    ck=$(sed -nE 's/^\[r0 [^]]*\] checkpoint (.*)$/\1/p' "$T/$name.out" | tail -n 1)
    check "[ -n '$ck' ] && [ -s '$ck' ] && [ '$(dirname "$ck")' = '$run/checkpoints' ]" \
        "$name: no final checkpoint in $run/checkpoints (log names '$ck')"
    [ "$fail" -eq "$before" ] || show_out "$name"
}

# 1. srun --mpi=pmix (the default launcher)
if FLOQ_RUN_DIR=$T/run-srun submit_wait srun; then
    check_run srun "$T/run-srun"
    check "grep -q '3 ranks (1 learner + 2 actors), launcher srun' '$T/srun.out'" "srun: banner line"
fi
# 2. mpirun inside the allocation
if FLOQ_LAUNCHER=mpirun FLOQ_RUN_DIR=$T/run-mpirun submit_wait mpirun; then
    check_run mpirun "$T/run-mpirun"
fi
# 2b. two learner ranks (FLOQ_LEARNER_RANKS=2): ranks 0 and 1 share the update, rank 2 acts
if FLOQ_LEARNER_RANKS=2 FLOQ_RUN_DIR=$T/run-lranks submit_wait lranks; then
    check "[ '$jstate' = COMPLETED ] && [ '$jexit' = 0:0 ]" "lranks: JobState $jstate ExitCode $jexit"
    check "grep -q '3 ranks (2 learner + 1 actors), launcher srun' '$T/lranks.out'" "lranks: banner line"
    check "grep -q 'learner ranks: 2, each on' '$T/lranks.out' && grep -q '^\[r1 .*learner rank 1: [0-9]* updates' '$T/lranks.out'" \
        "lranks: the leader announces 2 learner ranks and rank 1 reports its updates"
    check "grep -q 'online: 3000 transitions received' '$T/lranks.out' && grep -q '^\[r2 .*actor 2: ' '$T/lranks.out'" \
        "lranks: actor rank 2 delivered the online phase"
    [ "$fail" -eq 0 ] || show_out lranks
fi
# 3. a dead rank kills the job: SIGKILL actor rank 2 once online fine-tuning runs
if FLOQ_RUN_DIR=$T/run-kill FLOQ_ONLINE_STEPS=1000000 submit kill; then
    for _ in $(seq 300); do  # until both actors joined, or the job ended
        [ "$(grep -c 'online: actor [12] accepted' "$T/kill.out" 2>/dev/null)" = 2 ] && break
        scontrol -o show job "$jid" 2>/dev/null | grep -qE 'JobState=(PENDING|CONFIGURING|RUNNING)' ||
            break
        sleep 0.2
    done
    pid=$(scontrol listpids "$jid" 2>/dev/null | awk '$3 == "0" && $5 == "2" {print $1}')
    if [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$build/floq train"; then
        kill -9 "$pid"
        t_kill=$SECONDS ns_kill=$(date +%s%N)
        if wait_job kill 60; then
            echo "kill: the job ended $((($(date +%s%N) - ns_kill) / 1000000)) ms after rank 2 was killed"
            check "[ '$jstate' = FAILED ] && [ '$jexit' != 0:0 ]" \
                "kill: JobState $jstate ExitCode $jexit, expected FAILED and non-zero"
            # srun sends the other ranks SIGTERM: the learner writes a checkpoint, and the job
            # ends within SLURM's KillWait (30 s; the actors wait for the learner's END)
            check "[ $((t_end - t_kill)) -le 45 ]" "kill: the job took $((t_end - t_kill)) s to end"
            check "grep -q 'stopped by SIGTERM at step' '$T/kill.out'" \
                "kill: the learner did not write a checkpoint on SIGTERM"
            check "grep -q 'task 2: Killed' '$T/kill.out'" "kill: srun did not report rank 2's death"
        fi
    else
        bad "kill: rank 2 of job $jid not found (scontrol listpids); online never started?"
        show_out kill
        cancel_job
    fi
fi
# 4. resubmitting into the killed run resumes its offline checkpoint straight into online
kstep=$(sed -n 's/.*stopped by SIGTERM at step \([0-9]*\).*/\1/p' "$T/kill.out")
if [ -d "$T/run-kill/checkpoints" ] && FLOQ_RUN_DIR=$T/run-kill submit_wait resume; then
    want=$((3000 - ${kstep:-500} + 500)) check_run resume "$T/run-kill"
    check "grep -q 'resuming from the newest' '$T/resume.out' &&
           grep -q 'resuming $T/run-kill from .* (step ${kstep:-500})' '$T/resume.out'" \
        "resume: the script did not resume the run from its newest checkpoint (step >= 500)"
fi
# 5. a job at its time limit: SLURM sends the batch shell SIGUSR1 (--signal=B:USR1@120 in the
#    script; scancel --signal=USR1 --batch sends the same signal now). The script passes it on,
#    floq writes a checkpoint and exits 3, the script requeues the job, the requeued job resumes
#    and ends with parameters identical to an uninterrupted offline run of the same seed.
#    The reference runs on the script's update threads (FLOQ_LEARNER_THREADS, unset here: 1): a
#    given thread count repeats bit for bit, another one only to float rounding.
steps=8000
"$build/floq" train --env_name tiny-v0 --dataset "$T/tiny.npz" --offline_steps $steps \
    --online_steps 0 --learner_threads 1 $FLOQ_ARGS --run_dir "$T/ref" \
    >"$T/ref.log" 2>&1 || bad "requeue: reference run"
if FLOQ_RUN_DIR=$T/run-rq FLOQ_OFFLINE_STEPS=$steps FLOQ_ONLINE_STEPS=0 submit requeue; then
    for _ in $(seq 600); do  # until it trains (a metrics row), or the job ended
        grep -q ',offline,' "$T/run-rq/metrics.csv" 2>/dev/null && break
        scontrol -o show job "$jid" 2>/dev/null | grep -qE 'JobState=(PENDING|CONFIGURING|RUNNING)' ||
            break
        sleep 0.1
    done
    scancel --signal=USR1 --batch "$jid"
    requeued=0
    for _ in $(seq 600); do  # the script requeues the job: it goes back to PENDING
        if grep -q 'requeueing job' "$T/requeue.out" 2>/dev/null &&
            scontrol -o show job "$jid" 2>/dev/null | grep -q 'JobState=PENDING'; then
            requeued=1
            break
        fi
        sleep 0.1
    done
    check "[ $requeued = 1 ]" "requeue: the job was not requeued after SIGUSR1 ($(tail -n 3 "$T/requeue.out" | tr '\n' ' '))"
    # skip SLURM's requeue delay, once the first run's step has gone (its PMIx socket has the
    # same job and step ID; starting over it at once fails with "Address already in use")
    for _ in $(seq 400); do
        [ -e "$D/spool/d/stepd.slurm.pmix.$jid.0" ] || break
        sleep 0.1
    done
    scontrol update JobId="$jid" StartTime=now 2>/dev/null
    running_job=$jid
    if wait_job requeue "$job_timeout"; then
        check "[ '$jstate' = COMPLETED ] && [ '$jexit' = 0:0 ]" \
            "requeue: JobState $jstate ExitCode $jexit, expected COMPLETED 0:0"
        stop=$(sed -n 's/.*stopped by SIGUSR1 at step \([0-9]*\).*/\1/p' "$T/requeue.out")
        check "[ -n '$stop' ] && [ '$stop' -lt $steps ] && grep -q 'resuming $T/run-rq from .* (step $stop)' '$T/requeue.out'" \
            "requeue: stopped by SIGUSR1 at step '$stop' and resumed from it"
        ref=$T/ref/checkpoints/ckpt-$(printf %010d $steps).ckpt
        got=$T/run-rq/checkpoints/ckpt-$(printf %010d $steps).ckpt
        check "[ -f '$got' ] && diff <('$build/tests/tool_ckpt' hash '$ref') <('$build/tests/tool_ckpt' hash '$got') >/dev/null" \
            "requeue: the parameters at step $steps equal the uninterrupted run's"
        [ "$fail" -eq 0 ] || show_out requeue
    fi
fi
finish
