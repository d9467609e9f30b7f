#!/usr/bin/env bash
# Single-node Slurm cluster on 127.0.0.1 for the test suite, with accounting: slurmdbd
# stores finished jobs in a private MariaDB instance, so `sacct` answers for jobs that
# slurmctld has already forgotten (it keeps finished jobs only MinJobAge seconds).
#
#   slurm.sh up       install if needed, configure, start; idempotent (fast when already up)
#   slurm.sh down     cancel all jobs, stop slurmd, slurmctld, slurmdbd, munged and MariaDB
#   slurm.sh status   exit 0 when the node is usable (idle/mix/alloc/comp and responding)
#                     and slurmdbd answers
#   slurm.sh env      print `export` lines for the tests: eval "$(tests/services/slurm.sh env)"
#   slurm.sh install  only install the packages (see SLURM_PACKAGES in common.sh) when missing
#
# Environment: TROIKA_TEST_STATE  state directory (default /var/tmp/troika-test/slurm);
#                holds state/, spool/, log/ (daemon logs, jobcomp.txt), run/ (pid files,
#                MariaDB's socket) and mariadb/ (the database, slurmdbd's password).
#              TROIKA_TEST_SLURM_CPUS  CPUs the node advertises (default 8).
#
# Start order: munged, MariaDB, slurmdbd (it listens only once it reaches the database),
# slurmctld (it registers the cluster with slurmdbd), slurmd.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STATE=${TROIKA_TEST_STATE:-/var/tmp/troika-test/slurm}
CLUSTER=troika-test
PARTITION=debug
# More CPUs than the machine has: trivial test jobs run more in parallel.
NODE_CPUS=${TROIKA_TEST_SLURM_CPUS:-8}
CONF=/etc/slurm/slurm.conf
CGROUP_CONF=/etc/slurm/cgroup.conf
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
DBD_CONF=/etc/slurm/slurmdbd.conf
CTLD_PORT=6817
SLURMD_PORT=6818
DBD_PORT=6819
# MariaDB of this cluster alone: its own data directory, socket and port (not 3306, which a
# system MariaDB may use), reached by slurmdbd over TCP on 127.0.0.1.
DB_DIR=$STATE/mariadb
DB_SOCK=$STATE/run/mariadb.sock
DB_PID=$STATE/run/mariadb.pid
DB_PORT=3307
DB_USER=slurm
DB_NAME=slurm_acct_db
# Seconds slurmctld keeps a finished job (squeue -t all, scontrol show job); later only sacct
# knows it. 2 is the lowest value slurm.conf(5) recommends (0 turns purging off). slurmctld
# purges in a sweep every max(10, MinJobAge) s when MinJobAge < 60, and job end times have
# whole seconds: a job leaves 1-2 to MinJobAge + 10 s after its end (2.0 to 11.0 s seen).
MIN_JOB_AGE=2
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

# pid_in_file NAME PIDFILE: like pid_of, but only from the pid file: a MariaDB of the system
# (same process name) is not ours.
pid_in_file() {
    local pid
    pid=$(cat "$2" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

# stop_daemons NAME=PIDFILE...: SIGTERM them all at once (each takes ~2 s to exit),
# wait up to 30 s, then SIGKILL what is left.
stop_daemons() {
    local arg pid pids=() left i
    for arg; do
        if [ "${arg%%=*}" = mariadbd ]; then
            pid=$(pid_in_file mariadbd "${arg#*=}") || continue
        else
            pid=$(pid_of "${arg%%=*}" "${arg#*=}") || continue
        fi
        kill "$pid" 2>/dev/null && pids+=("$pid")
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
        "$STATE"/log/slurmdbd.stderr "$STATE"/log/mariadb-install.log "$STATE"/log/mariadb.log \
        "$STATE"/log/slurmdbd.log "$STATE"/log/slurmctld.log "$STATE"/log/slurmd.log \
        /var/log/munge/munged.log; do
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

# Usable: controller answers and the node is responding (no '*' suffix) and schedulable
# (plnd: idle, its CPUs planned for a pending job of a busy queue).
node_usable() {
    case "$(node_state)" in
        idle | mix | alloc | comp | plnd) return 0 ;;
        *) return 1 ;;
    esac
}

# listening PORT: a TCP socket listens on PORT.
listening() {
    grep -qE ":$(printf %04X "$1") [0-9A-F]+:0000 0A" /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# Conditions polled while starting; a daemon that died fails at once instead of after WAIT_SECS.
ctld_listening() {
    # A slurmctld that has just been started may not be seen for a moment (it daemonizes, and
    # after a restart its pid file still names the old one): look again before giving up.
    pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null ||
        { sleep 1 && pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null; } || fail "slurmctld exited"
    listening "$CTLD_PORT"
}

# db_sql SQL: run SQL as MariaDB's root (socket authentication as the system's root). On
# stdin, not in the arguments: other users see those (ps), and it holds a password.
db_sql() {
    printf '%s\n' "$1" | mariadb --no-defaults --socket="$DB_SOCK" -u root -N -B
}

db_ready() {
    kill -0 "$db_pid" 2>/dev/null || fail "mariadbd exited"
    db_sql 'SELECT 1' >/dev/null 2>&1
}

dbd_listening() {
    pid_of slurmdbd "$STATE/run/slurmdbd.pid" >/dev/null || fail "slurmdbd exited"
    listening "$DBD_PORT"
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

# MariaDB: create the data directory on the first run, start the server unless it runs.
# Sets db_pid; db_started=1 when it was started here (then wait_for db_ready).
db_up() {
    db_started=0
    db_pid=$(pid_in_file mariadbd "$DB_PID") && return 0
    if [ ! -d "$DB_DIR/data/mysql" ]; then
        log "creating the database directory $DB_DIR/data"
        rm -rf "$DB_DIR/data"
        mkdir -p "$DB_DIR"
        mariadb-install-db --no-defaults --user=root --datadir="$DB_DIR/data" --skip-test-db \
            --skip-name-resolve --auth-root-authentication-method=socket \
            >"$STATE/log/mariadb-install.log" 2>&1 </dev/null 9>&- || fail "mariadb-install-db failed"
    fi
    listening "$DB_PORT" && fail "port $DB_PORT is taken by another program (MariaDB of this cluster cannot start)"
    # mariadbd does not daemonize: a session of its own (no signals of the caller's terminal).
    # The InnoDB settings are those slurmdbd asks for (else it logs an error at each start);
    # the buffer pool is allocated as it fills. No flush to disk at each commit: test data.
    setsid mariadbd --no-defaults --user=root --datadir="$DB_DIR/data" --socket="$DB_SOCK" \
        --pid-file="$DB_PID" --port="$DB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --log-error="$STATE/log/mariadb.log" --innodb-buffer-pool-size=1G \
        --innodb-log-file-size=64M --innodb-lock-wait-timeout=900 \
        --innodb-flush-log-at-trx-commit=2 </dev/null >/dev/null 2>&1 9>&- &
    db_pid=$!
    db_started=1
}

# The password of slurmdbd's database user, made on the first run.
db_password() {
    local f=$DB_DIR/slurm-password
    if [ ! -s "$f" ]; then
        mkdir -p "$DB_DIR"
        (umask 077 && head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9 >"$f")
    fi
    cat "$f"
}

# The complete slurmdbd.conf, on stdout.
render_dbd_conf() {
    cat <<CONF
# Written by tests/services/slurm.sh: accounting of the test cluster. Edits are overwritten.
AuthType=auth/munge
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
DebugLevel=info
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=$DB_USER
StoragePass=$(db_password)
StorageLoc=$DB_NAME
CONF
}

# The complete slurm.conf for this machine, on stdout.
render_conf() {
    local host mem
    host=$(hostname -s)
    mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
    [ -n "$mem" ] || die "could not read RealMemory from slurmd -C"
    cat <<CONF
# Written by tests/services/slurm.sh: single-node test cluster. Edits are overwritten.
ClusterName=$CLUSTER
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
# Accounting (sacct) through slurmdbd. State, exit code, times and nodes are recorded without
# a gather plugin; jobacct_gather/linux would only add memory and CPU use of the steps.
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# The job comment (where troika puts its submission token) is kept in accounting too.
AccountingStoreFlags=job_comment
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
# Cancelled jobs die quickly; finished jobs stay visible to squeue -t all and scontrol
# briefly (see MIN_JOB_AGE in slurm.sh), then only to sacct.
KillWait=5
MinJobAge=$MIN_JOB_AGE
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
# Two more partitions, for troika queues: one with limits, one that takes no new jobs.
PartitionName=short Nodes=ALL MaxTime=00:30:00 MaxMemPerNode=2048 State=UP
PartitionName=closed Nodes=ALL MaxTime=1-00:00:00 State=DRAIN
CONF
}

# write_if_changed FILE [MODE]: write FILE (mode 0644 by default) from stdin if its content
# differs; exit status 0 when it changed.
write_if_changed() {
    local tmp
    tmp=$(mktemp "$1.XXXXXX")
    cat >"$tmp"
    if cmp -s "$tmp" "$1"; then
        rm -f "$tmp"
        return 1
    fi
    chmod "${2:-0644}" "$tmp"
    mv -f "$tmp" "$1"
}

cmd_up() {
    local t0=${EPOCHREALTIME/./} changed=0 dbd_changed=0 conf ctld_log_start='' db_pid db_started pass
    local why="configuration changed"
    slurm_install
    mkdir -p "$STATE"/{state,spool,log,run} /etc/slurm
    # Serialize concurrent `up`/`down` calls. Daemons must not inherit this fd (9>&-).
    exec 9>"$STATE/run/lock"
    flock 9

    conf=$(render_conf)
    printf '%s\n' "$conf" | write_if_changed "$CONF" && changed=1
    printf '# Written by tests/services/slurm.sh. Cgroups are not used (proctrack/linuxproc).\nCgroupAutomount=no\n' |
        write_if_changed "$CGROUP_CONF" && changed=1
    # It holds the database password: slurmdbd refuses a file that others can read.
    conf=$(render_dbd_conf)
    printf '%s\n' "$conf" | write_if_changed "$DBD_CONF" 0600 && dbd_changed=1

    munge_up

    db_up
    # slurmdbd started before its database answers retries only every 5 s: wait for it.
    [ "$db_started" = 0 ] || wait_for "MariaDB to answer on $DB_SOCK" db_ready
    [ "$dbd_changed" = 0 ] || stop_daemons slurmdbd="$STATE/run/slurmdbd.pid"
    if ! pid_of slurmdbd "$STATE/run/slurmdbd.pid" >/dev/null; then
        pass=$(db_password)
        db_sql "CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$pass';
            ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$pass';
            GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'127.0.0.1';" ||
            fail "could not create the database user $DB_USER"
        slurmdbd </dev/null >"$STATE/log/slurmdbd.stderr" 2>&1 9>&- || fail "slurmdbd did not start"
        wait_for "slurmdbd to listen on port $DBD_PORT" dbd_listening
        # slurmctld registers the cluster with slurmdbd only when it starts: after a new
        # database (say $DB_DIR was removed) a running slurmctld must start again, or no job
        # is recorded.
        if ! sacctmgr -n -P show cluster format=Cluster 2>/dev/null | grep -qx "$CLUSTER"; then
            [ "$changed" = 1 ] || why="cluster $CLUSTER not registered with slurmdbd"
            changed=1
        fi
    fi

    if [ "$changed" = 1 ]; then
        # A changed node definition needs a restart (scontrol reconfigure is not enough).
        if pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null; then
            log "$why, restarting slurmctld and slurmd"
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
        "accounting slurmdbd:$DBD_PORT (MariaDB 127.0.0.1:$DB_PORT), MinJobAge $MIN_JOB_AGE s," \
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
    # slurmctld first (it sends its last records to slurmdbd), the database last.
    stop_daemons slurmd="$STATE/run/slurmd.pid" slurmctld="$STATE/run/slurmctld.pid"
    stop_daemons slurmdbd="$STATE/run/slurmdbd.pid" munged="$MUNGE_PID"
    stop_daemons mariadbd="$DB_PID"
    echo "slurm down"
}

cmd_status() {
    pid_of slurmctld "$STATE/run/slurmctld.pid" >/dev/null || { echo "slurmctld not running"; return 1; }
    pid_of slurmd "$STATE/run/slurmd.pid" >/dev/null || { echo "slurmd not running"; return 1; }
    pid_of slurmdbd "$STATE/run/slurmdbd.pid" >/dev/null || { echo "slurmdbd not running"; return 1; }
    listening "$DBD_PORT" || { echo "slurmdbd not listening on port $DBD_PORT"; return 1; }
    pid_in_file mariadbd "$DB_PID" >/dev/null || { echo "MariaDB (mariadbd) not running"; return 1; }
    local st
    st=$(node_state)
    echo "node $(hostname -s): ${st:-unreachable}"
    node_usable
}

# Seconds after its end within which a finished job has left slurmctld (squeue, scontrol):
# MinJobAge, plus the purge sweep interval, plus margin for a busy machine.
purge_within() {
    local sweep=60
    [ "$MIN_JOB_AGE" -ge 60 ] || sweep=$((MIN_JOB_AGE > 10 ? MIN_JOB_AGE : 10))
    echo $((MIN_JOB_AGE + sweep + 5))
}

cmd_env() {
    cat <<ENV
export TROIKA_TEST_SLURM=1
export TROIKA_TEST_SLURM_PARTITION=$PARTITION
export TROIKA_TEST_SLURM_NODE=$(hostname -s)
export TROIKA_TEST_SLURM_CPUS=$NODE_CPUS
export TROIKA_TEST_SLURM_STATE=$STATE
export TROIKA_TEST_SLURM_JOBCOMP=$STATE/log/jobcomp.txt
export TROIKA_TEST_SLURM_ACCOUNTING=1
export TROIKA_TEST_SLURM_MIN_JOB_AGE=$MIN_JOB_AGE
export TROIKA_TEST_SLURM_PURGE_WITHIN=$(purge_within)
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
