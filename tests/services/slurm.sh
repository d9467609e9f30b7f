#!/usr/bin/env bash
# Single-node Slurm cluster on 127.0.0.1 for the test suite.
#
#   slurm.sh up       install if needed, configure, start; idempotent (fast when already up)
#   slurm.sh down     cancel all jobs, stop slurmd, slurmctld and munged
#   slurm.sh status   exit 0 when the node is usable (idle/mix/alloc/comp and responding)
#   slurm.sh env      print `export` lines for the tests: eval "$(tests/services/slurm.sh env)"
#   slurm.sh install  only install the packages (slurm-wlm munge) when missing
#
# Environment: TROIKA_TEST_STATE  state directory (default /var/tmp/troika-test/slurm);
#                holds state/, spool/, log/ (daemon logs, jobcomp.txt) and run/ (pid files).
#              TROIKA_TEST_SLURM_CPUS  CPUs the node advertises (default 8).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STATE=${TROIKA_TEST_STATE:-/var/tmp/troika-test/slurm}
PARTITION=debug
# More CPUs than the machine has: trivial test jobs run more in parallel.
NODE_CPUS=${TROIKA_TEST_SLURM_CPUS:-8}
CONF=/etc/slurm/slurm.conf
CGROUP_CONF=/etc/slurm/cgroup.conf
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
CTLD_PORT=6817
SLURMD_PORT=6818
WAIT_SECS=60

slurm_install() {
    slurm_installed || apt_install "${SLURM_PACKAGES[@]}"
}

# pid_of NAME PIDFILE: print the pid of a running NAME (pid file first, then by name).
pid_of() {
    local pid
    pid=$(cat "$2" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]; then
        echo "$pid"
        return 0
    fi
    pidof -s "$1"
}

# stop_daemons NAME=PIDFILE...: SIGTERM them all at once (each takes ~2 s to exit),
# wait up to 30 s, then SIGKILL what is left.
stop_daemons() {
    local arg pid pids=() left i
    for arg; do
        pid=$(pid_of "${arg%%=*}" "${arg#*=}") && kill "$pid" 2>/dev/null && pids+=("$pid")
    done
    for ((i = 0; i < 300; i++)); do
        left=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        [ "${#left[@]}" = 0 ] && return 0
        sleep 0.1
    done
    log "pids ${left[*]} did not stop in 30 s, killing them"
    kill -9 "${left[@]}" 2>/dev/null || true
}

show_logs() {
    local f
    # stderr files hold start-up errors (config parse errors) printed before logging starts.
    for f in "$STATE"/log/slurmctld.stderr "$STATE"/log/slurmd.stderr "$STATE"/log/munged.stderr \
        "$STATE"/log/slurmctld.log "$STATE"/log/slurmd.log /var/log/munge/munged.log; do
        [ -s "$f" ] || continue
        echo "==> $f <==" >&2
        tail -n 15 "$f" >&2
    done
}

fail() {
    log "error: $*"
    show_logs
    exit 1
}

# Node state as sinfo prints it (idle, mix, alloc, idle*, down*, ...), empty if unreachable.
node_state() {
    timeout 10 sinfo -h -o %t 2>/dev/null | head -n 1 || true
}

# Usable: controller answers and the node is responding (no '*' suffix) and schedulable.
node_usable() {
    case "$(node_state)" in
        idle | mix | alloc | comp) return 0 ;;
        *) return 1 ;;
    esac
}

# Conditions polled while starting; a daemon that died fails at once instead of after WAIT_SECS.
ctld_listening() {
    pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || fail "slurmctld exited"
    grep -qE ":$(printf %04X "$CTLD_PORT") [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

node_ready() {
    pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null || fail "slurmd exited"
    node_usable
}

# wait_for WHAT CMD...: poll CMD until it succeeds; fail after WAIT_SECS.
wait_for() {
    local what=$1 deadline=$((SECONDS + WAIT_SECS))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${WAIT_SECS} s waiting for $what (sinfo state: '$(node_state)')"
        sleep 0.02
    done
}

# The log line slurmctld prints when its scheduler first reads SchedulerParameters.
first_sched_pass_done() {
    pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || fail "slurmctld exited"
    tail -c +$((ctld_log_start + 1)) "$STATE/log/slurmctld.log" 2>/dev/null | grep -q 'SchedulerParameters='
}

munge_up() {
    install -d -o munge -g munge -m 0755 /run/munge
    if [ ! -s "$MUNGE_KEY" ]; then
        log "creating $MUNGE_KEY"
        dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none
    fi
    chown munge:munge "$MUNGE_KEY"
    chmod 0400 "$MUNGE_KEY"
    pid_of munged "$MUNGE_PID" >/dev/null && return 0
    # More threads than the default 2: a burst of parallel sbatch calls each need a credential.
    runuser -u munge -- munged --num-threads=8 </dev/null >"$STATE/log/munged.stderr" 2>&1 9>&- ||
        fail "munged did not start"
    munge -n 2>/dev/null | unmunge >/dev/null 2>&1 || fail "munge does not work (munge -n | unmunge)"
}

# The complete slurm.conf for this machine, on stdout.
render_conf() {
    local host mem
    host=$(hostname -s)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    [ -n "$mem" ] || die "could not read RealMemory from slurmd -C"
    cat <<CONF
# Written by tests/services/slurm.sh: single-node test cluster. Edits are overwritten.
ClusterName=troika-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/log/jobcomp.txt
SchedulerType=sched/backfill
# Start jobs as soon as they are submitted (the default, 3, starts a batch at most every 3 s).
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# The node advertises more CPUs than the machine has; trust the configuration.
SlurmdParameters=config_overrides
ReturnToService=2
# Bursts of submissions: room for many jobs, patient clients.
MaxJobCount=50000
MessageTimeout=30
# Cancelled jobs die quickly; finished jobs stay visible to squeue/scontrol for 5 minutes.
KillWait=5
MinJobAge=300
InactiveLimit=0
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/run/slurmctld.pid
SlurmdPidFile=$STATE/run/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$host NodeAddr=127.0.0.1 CPUs=$NODE_CPUS RealMemory=$mem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=UNLIMITED State=UP
CONF
}

# Write FILE from stdin if its content differs; exit status 0 when it changed.
write_if_changed() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        return 1
    fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$1"
}

cmd_up() {
    local t0=${EPOCHREALTIME/./} changed=0 conf ctld_log_start=
    slurm_install
    mkdir -p "$STATE"/{state,spool,log,run} /etc/slurm
    # Serialize concurrent `up`/`down` calls. Daemons must not inherit this fd (9>&-).
    exec 9>"$STATE/run/lock"
    flock 9

    conf=$(render_conf)
    printf '%s\n' "$conf" | write_if_changed "$CONF" && changed=1
    printf '# Written by tests/services/slurm.sh. Cgroups are not used (proctrack/linuxproc).\nCgroupAutomount=no\n' |
        write_if_changed "$CGROUP_CONF" && changed=1

    munge_up

    if [ "$changed" = 1 ]; then
        # A changed node definition needs a restart (scontrol reconfigure is not enough).
        if pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null; then
            log "configuration changed, restarting slurmctld and slurmd"
        fi
        stop_daemons slurmd="$STATE/run/slurmd.pid" slurmctld="$STATE/run/slurmctld.pid"
    fi
    # slurmd registers at once only if slurmctld already listens (else it retries a second
    # later); the same goes for the first sinfo. So: slurmctld, wait for its port, slurmd.
    if ! pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null; then
        ctld_log_start=$(stat -c %s "$STATE/log/slurmctld.log" 2>/dev/null || echo 0)
        slurmctld </dev/null >"$STATE/log/slurmctld.stderr" 2>&1 9>&- || fail "slurmctld did not start"
    fi
    wait_for "slurmctld to listen on port $CTLD_PORT" ctld_listening
    if ! pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null; then
        slurmd </dev/null >"$STATE/log/slurmd.stderr" 2>&1 9>&- || fail "slurmd did not start"
    fi
    wait_for "the node to be idle" node_ready
    # A new slurmctld applies SchedulerParameters (batch_sched_delay=0) only in its first
    # scheduling pass, about 3 s after start; until then a submitted job waits up to 3 s.
    # Wait for that pass so the first jobs of a test run start as fast as the later ones.
    [ -z "$ctld_log_start" ] || wait_for "slurmctld's first scheduling pass" first_sched_pass_done
    echo "slurm up: node $(hostname -s) ($NODE_CPUS CPUs, $(node_state)), partition $PARTITION," \
        "state $STATE ($(( (${EPOCHREALTIME/./} - t0) / 1000 )) ms)"
}

cmd_down() {
    local i ids
    mkdir -p "$STATE/run"
    exec 9>"$STATE/run/lock"
    flock 9
    if pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null; then
        # Jobs survive a daemon restart: cancel them all first and let them finish.
        ids=$(timeout 30 squeue -h -o %i 2>/dev/null || true)
        if [ -n "$ids" ]; then
            echo "$ids" | xargs -r timeout 60 scancel || true
            for ((i = 0; i < 300; i++)); do
                [ -z "$(timeout 10 squeue -h -o %i 2>/dev/null || true)" ] && break
                sleep 0.1
            done
        fi
    fi
    stop_daemons slurmd="$STATE/run/slurmd.pid" slurmctld="$STATE/run/slurmctld.pid" munged="$MUNGE_PID"
    echo "slurm down"
}

cmd_status() {
    pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || { echo "slurmctld not running"; return 1; }
    pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null || { echo "slurmd not running"; return 1; }
    local st
    st=$(node_state)
    echo "node $(hostname -s): ${st:-unreachable}"
    node_usable
}

cmd_env() {
    cat <<ENV
export TROIKA_TEST_SLURM=1
export TROIKA_TEST_SLURM_PARTITION=$PARTITION
export TROIKA_TEST_SLURM_NODE=$(hostname -s)
export TROIKA_TEST_SLURM_CPUS=$NODE_CPUS
export TROIKA_TEST_SLURM_STATE=$STATE
export TROIKA_TEST_SLURM_JOBCOMP=$STATE/log/jobcomp.txt
ENV
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    install) slurm_install ;;
    *)
        echo "usage: $0 up|down|status|env|install" >&2
        exit 2
        ;;
esac
