#!/usr/bin/env bash
# slurm_test — `sbatch hostfiles/floq.sbatch` on a real single-node SLURM cluster.
# Starts a private cluster (munged if it is not running, slurmctld, slurmd) whose config, state,
# logs and ports live in $FLOQ_SLURM_DIR (default /tmp/floq-slurm), so /etc/slurm and any
# cluster already running here are left alone. Then, with a tiny-v0 dataset made by floq collect:
#   1. srun launcher: 3 ranks (-O on fewer cores), offline 500 + online 3000 steps;
#      checks COMPLETED, ExitCode 0:0, "transitions received" from both actors, the checkpoint;
#   2. the same with FLOQ_LAUNCHER=mpirun (mpirun inside the allocation);
#   3. resubmit into run 1's directory: the script resumes from the newest checkpoint;
#   4. a job that must fail (missing dataset) ends FAILED with a non-zero exit code.
# Stops the daemons it started on exit; the job outputs stay in $FLOQ_SLURM_DIR/last. Needs root and slurm-wlm (installed here with apt-get
# when missing and running as root). Usage: tests/slurm_test.sh [build-dir]
# Overrides: FLOQ_SLURM_DIR, FLOQ_SLURM_PORT (slurmctld; slurmd uses +1, default 6917),
# FLOQ_SLURM_TIMEOUT (seconds per job, default 120).
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
case $build in /*) ;; *) build=$root/$build ;; esac
D=${FLOQ_SLURM_DIR:-/tmp/floq-slurm}
port=${FLOQ_SLURM_PORT:-6917}
job_timeout=${FLOQ_SLURM_TIMEOUT:-120}
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

ours() {  # pid-file: prints the pid if it is alive and a daemon of this cluster
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null |
        grep -qF -- "$SLURM_CONF" && echo "$pid"
}
stop_daemon() {  # pid-file
    local pid i
    pid=$(ours "$1") || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    rm -f "$1"
}
cleanup() {
    if [ -n "$running_job" ]; then scancel "$running_job" 2>/dev/null; fi
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
for i in $(seq 100); do
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

# ---- a tiny dataset, and one job submission + wait
if ! "$build/floq" collect --env_name tiny-v0 --policy random --episodes 100 \
    --out "$T/tiny.npz" 2>"$T/collect.log"; then
    bad "floq collect tiny-v0"; cat "$T/collect.log"; finish
fi
export FLOQ_BIN=$build/floq FLOQ_ENV=tiny-v0 FLOQ_DATASET=$T/tiny.npz
export FLOQ_OFFLINE_STEPS=500 FLOQ_ONLINE_STEPS=3000
export FLOQ_ARGS="--preset tiny --log_interval 500 --eval_interval 0 --actor.num_envs 4"
jstate=; jexit=
submit_wait() {  # name, extra sbatch flags...: sets jstate, jexit; output in $T/name.out
    local name=$1; shift
    local id t0=$SECONDS line
    jstate=; jexit=
    id=$(sbatch --parsable -n 3 -O --time=5 -J "floq-$name" -o "$T/$name.out" "$@" \
        hostfiles/floq.sbatch 2>"$T/$name.sbatch.err")
    if ! [[ $id =~ ^[0-9]+$ ]]; then
        bad "$name: sbatch refused the job: $(cat "$T/$name.sbatch.err")"
        return 1
    fi
    running_job=$id
    while :; do
        line=$(scontrol -o show job "$id" 2>/dev/null)
        jstate=$(sed -nE 's/.*JobState=([A-Z_]+).*/\1/p' <<<"$line")
        jexit=$(sed -nE 's/.* ExitCode=([0-9]+:[0-9]+).*/\1/p' <<<"$line")
        case $jstate in
            PENDING | RUNNING | CONFIGURING | COMPLETING | "") ;;
            *) break ;;
        esac
        if [ $((SECONDS - t0)) -ge "$job_timeout" ]; then
            bad "$name: job $id still $jstate after $job_timeout s; cancelled"
            scancel "$id"
            running_job=
            return 1
        fi
        sleep 0.5
    done
    running_job=
    echo "$name: job $id $jstate, exit $jexit, $((SECONDS - t0)) s"
}
show_out() {  # name
    echo "--- $1.out (tail)"; tail -n 15 "$T/$1.out" 2>/dev/null
    echo "--- slurmd.log (tail)"; tail -n 5 "$D/log/slurmd.log"
}
check_run() {  # name, run dir
    local name=$1 run=$2 before=$fail ck
    check "[ '$jstate' = COMPLETED ]" "$name: JobState $jstate, expected COMPLETED"
    check "[ '$jexit' = 0:0 ]" "$name: ExitCode $jexit, expected 0:0"
    check "grep -q 'online: 3000 transitions received' '$T/$name.out'" \
        "$name: the online phase did not finish (no 'online: 3000 transitions received')"
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
# 3. resubmitting into run 1's directory resumes it: 2000 more online steps
if [ -d "$T/run-srun/checkpoints" ] &&
    FLOQ_RUN_DIR=$T/run-srun FLOQ_ONLINE_STEPS=5000 submit_wait resume; then
    before=$fail
    check "[ '$jstate' = COMPLETED ] && [ '$jexit' = 0:0 ]" "resume: JobState $jstate ExitCode $jexit"
    check "grep -q 'resuming from the newest' '$T/resume.out' && grep -q 'resuming $T/run-srun' '$T/resume.out'" \
        "resume: the script did not resume the run"
    check "grep -q 'online: 2000 transitions received' '$T/resume.out'" \
        "resume: expected 2000 more online transitions"
    [ "$fail" -eq "$before" ] || show_out resume
fi
# 4. a job that fails must look failed
if FLOQ_DATASET=$T/missing.npz FLOQ_RUN_DIR=$T/run-bad submit_wait failing; then
    check "[ '$jstate' = FAILED ] && [ '$jexit' != 0:0 ]" "failing: JobState $jstate ExitCode $jexit, expected FAILED"
    check "grep -q 'dataset $T/missing.npz not found' '$T/failing.out'" "failing: no message about the dataset"
fi
finish
