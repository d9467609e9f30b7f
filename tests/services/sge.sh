#!/usr/bin/env bash
# Single-host Grid Engine cell (Son of Grid Engine 8.1.9, Debian's gridengine-*) for the
# test suite.
#
#   sge.sh up       install if needed, configure, start; idempotent (fast when already up)
#   sge.sh down     delete all jobs, stop sge_execd and sge_qmaster
#   sge.sh status   exit 0 when the queue instance all.q@<host> is usable
#   sge.sh env      print `export` lines for the tests: eval "$(tests/services/sge.sh env)"
#   sge.sh install  only install the packages (preseeded for this host) when missing
#
# Environment: TROIKA_TEST_SGE_SLOTS  job slots of all.q (default 4; jobs of the tests sleep,
#                they need no CPU).
# The cell is Debian's: SGE_ROOT=/var/lib/gridengine, SGE_CELL=default, spool in
# /var/spool/gridengine, daemons running as sgeadmin. Logs: the `messages` files there.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON=$SGE_ROOT/$SGE_CELL/common
SPOOL=/var/spool/gridengine
RUN=/run/gridengine
export SGE_MASTER_PIDFILE=$RUN/qmaster.pid
QUEUE=all.q
SLOTS=${TROIKA_TEST_SGE_SLOTS:-4}
WAIT_SECS=60
HOST=$(hostname)
# What configure() set up, recorded beside the spool database.
STAMP=$SPOOL/spooldb/troika-test-configured
WANT="host=$HOST queue=$QUEUE slots=$SLOTS pe=smp v1"

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

qmaster_pid() { pid_of sge_qmaster "$SGE_MASTER_PIDFILE"; }
execd_pid() { pid_of sge_execd "$SPOOL/execd/$HOST/execd.pid"; }

show_logs() {
    local f
    for f in "$SPOOL/qmaster/messages" "$SPOOL/execd/$HOST/messages" /tmp/qmaster_messages /tmp/execd_messages; do
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

# wait_for WHAT CMD...: poll CMD until it succeeds; fail after WAIT_SECS.
wait_for() {
    local what=$1 deadline=$((SECONDS + WAIT_SECS))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "timed out after ${WAIT_SECS} s waiting for $what"
        sleep 0.05
    done
}

# The states column of all.q@<host> in `qstat -f` (empty when usable); fails when the
# qmaster does not answer or the queue instance is missing.
queue_states() {
    local out
    out=$(timeout 10 qstat -f -q "$QUEUE@$HOST" 2>/dev/null) || return 1
    # queuename qtype resv/used/tot. load_avg arch [states]
    awk -v q="$QUEUE@$HOST" '$1 == q { found = 1; print $6 } END { exit !found }' <<<"$out"
}

queue_usable() {
    local st
    st=$(queue_states) && [ -z "$st" ]
}

qmaster_answers() {
    qmaster_pid >/dev/null || fail "sge_qmaster exited"
    timeout 10 qconf -sh >/dev/null 2>&1
}

queue_ready() {
    execd_pid >/dev/null || fail "sge_execd exited"
    queue_usable
}

sge_install() {
    sge_installed || { sge_preseed && apt_install "${SGE_PACKAGES[@]}"; }
}

# The cell as the packages create it when preseeded (sge_preseed). Redone here when the
# packages were installed without it (act_qmaster empty, no spool database).
cell_init() {
    mkdir -p "$COMMON"
    chown sgeadmin:sgeadmin "$SGE_ROOT/$SGE_CELL" "$COMMON"
    if [ ! -s "$COMMON/bootstrap" ] || [ ! -e "$SPOOL/spooldb/sge" ]; then
        log "initialising the cell $SGE_ROOT/$SGE_CELL"
        install -d -o sgeadmin -g sgeadmin "$SPOOL/qmaster" "$SPOOL/qmaster/job_scripts" "$SPOOL/spooldb" "$SPOOL/execd"
        install -m 0644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
        su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOL/spooldb sgeadmin" \
            sgeadmin >/tmp/troika-sge-init.log 2>&1 || { tail -n 20 /tmp/troika-sge-init.log >&2; fail "init_cluster failed"; }
    fi
    # The host calls itself $HOST while 127.0.0.1 resolves back to `localhost`: without the
    # alias the qmaster refuses every client ("access denied (client IP resolved to host name
    # "localhost" ...)") and the execd never registers.
    if [ "$(cat "$COMMON/host_aliases" 2>/dev/null)" != "$HOST localhost" ]; then
        echo "$HOST localhost" >"$COMMON/host_aliases"
        chmod 0644 "$COMMON/host_aliases"
        restart=1
    fi
    if [ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" != "$HOST" ]; then
        echo "$HOST" >"$COMMON/act_qmaster"
        chown sgeadmin:sgeadmin "$COMMON/act_qmaster"
        chmod 0644 "$COMMON/act_qmaster"
        restart=1
    fi
}

# conf_set KIND NAME KEY VALUE...: change attributes of a configuration object shown by
# `qconf -s<KIND>` and loaded by `qconf -M<KIND> FILE` (conf: global configuration, sconf:
# scheduler), only when they differ. qconf takes the object name from the file name.
conf_set() {
    local kind=$1 name=$2 dir file cur changed=0 key val
    shift 2
    dir=$(mktemp -d)
    file=$dir/${name:-scheduler}
    timeout 10 qconf "-s$kind" ${name:+"$name"} >"$file" || { rm -rf "$dir"; fail "qconf -s$kind $name failed"; }
    while [ $# -ge 2 ]; do
        key=$1 val=$2
        shift 2
        cur=$(awk -v k="$key" '$1 == k { print $2 }' "$file")
        [ "$cur" = "$val" ] && continue
        sed -i -E "s|^${key}[[:space:]].*|$key $val|" "$file"
        changed=1
    done
    if [ "$changed" = 1 ]; then
        timeout 10 qconf "-M$kind" "$file" >/dev/null || { rm -rf "$dir"; fail "qconf -M$kind $name failed"; }
    fi
    rm -rf "$dir"
}

# queue_set ATTR VALUE [-rattr]: set a queue attribute when it differs (-mattr, or -rattr
# to replace a list attribute such as hostlist).
queue_set() {
    local cur op=${3:--mattr}
    cur=$(timeout 10 qconf -sq "$QUEUE" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ +/, ""); print }')
    [ "$cur" = "$2" ] || timeout 10 qconf "$op" queue "$1" "$2" "$QUEUE" >/dev/null ||
        fail "qconf $op queue $1 $2 $QUEUE failed"
}

configure() {
    local dir
    timeout 10 qconf -sh 2>/dev/null | grep -qx "$HOST" || timeout 10 qconf -ah "$HOST" >/dev/null
    timeout 10 qconf -ss 2>/dev/null | grep -qx "$HOST" || timeout 10 qconf -as "$HOST" >/dev/null
    if ! timeout 10 qconf -sel 2>/dev/null | grep -qx "$HOST"; then
        dir=$(mktemp -d)
        printf '%s\n' "hostname $HOST" "load_scaling NONE" "complex_values NONE" "user_lists NONE" \
            "xuser_lists NONE" "projects NONE" "xprojects NONE" "usage_scaling NONE" \
            "report_variables NONE" >"$dir/$HOST"
        timeout 10 qconf -Ae "$dir/$HOST" >/dev/null || { rm -rf "$dir"; fail "qconf -Ae failed"; }
        rm -rf "$dir"
    fi
    # Debian's default minimum ids (1000) reject root's jobs; accounting records at once.
    conf_set conf global min_uid 0 min_gid 0
    # Jobs start within a second of their submission (the default interval is 15 s).
    conf_set sconf "" schedule_interval 0:0:1
    # A parallel environment for multi-slot jobs on the host (`-pe smp N`).
    if ! timeout 10 qconf -spl 2>/dev/null | grep -qx smp; then
        dir=$(mktemp -d)
        printf '%s\n' "pe_name smp" "slots 9999" "user_lists NONE" "xuser_lists NONE" \
            "start_proc_args NONE" "stop_proc_args NONE" "allocation_rule \$pe_slots" \
            "control_slaves FALSE" "job_is_first_task TRUE" "urgency_slots min" \
            "accounting_summary FALSE" "qsort_args NONE" >"$dir/smp"
        timeout 10 qconf -Ap "$dir/smp" >/dev/null || { rm -rf "$dir"; fail "qconf -Ap smp failed"; }
        rm -rf "$dir"
    fi
    if ! timeout 10 qconf -sql 2>/dev/null | grep -qx "$QUEUE"; then
        # qconf's queue template, caught by an "editor" that copies it (qconf -aq then fails
        # on the template's parallel environments that do not exist), loaded with -Aq.
        dir=$(mktemp -d)
        # shellcheck disable=SC2016 # $1 is the editor's argument
        printf '#!/bin/sh\ncp "$1" "%s/%s"\n' "$dir" "$QUEUE" >"$dir/editor"
        chmod 0755 "$dir/editor"
        EDITOR=$dir/editor timeout 10 qconf -aq "$QUEUE" >/dev/null 2>&1 || true
        [ -s "$dir/$QUEUE" ] || { rm -rf "$dir"; fail "could not read qconf's queue template"; }
        sed -i -E "s|^pe_list[[:space:]].*|pe_list smp|; s|^hostlist[[:space:]].*|hostlist $HOST|" "$dir/$QUEUE"
        timeout 10 qconf -Aq "$dir/$QUEUE" >/dev/null || { rm -rf "$dir"; fail "qconf -Aq $QUEUE failed"; }
        rm -rf "$dir"
    fi
    queue_set hostlist "$HOST" -rattr
    queue_set pe_list smp -rattr
    queue_set slots "$SLOTS"
    # A busy 2-core machine would otherwise put the queue in alarm state (no new jobs).
    queue_set load_thresholds NONE -rattr
    # Scripts run by the interpreter of their #! line, as on most sites (the default,
    # posix_compliant, runs every script with /bin/sh).
    queue_set shell_start_mode unix_behavior
}

cmd_up() {
    local t0=${EPOCHREALTIME/./} restart=0 pid
    sge_install
    mkdir -p /var/tmp/troika-test
    # Serialize concurrent `up`/`down` calls. Daemons must not inherit this fd (9>&-).
    exec 9>/var/tmp/troika-test/sge.lock
    flock 9
    install -d -o sgeadmin -g sgeadmin -m 0755 "$RUN"
    cell_init
    if [ "$restart" = 1 ] && ! daemons_stopped; then
        log "host names changed: restarting the daemons"
        for pid in $(execd_pid) $(qmaster_pid); do kill "$pid" 2>/dev/null || true; done
        wait_for "the daemons to stop" daemons_stopped
    fi
    if ! qmaster_pid >/dev/null; then
        sge_qmaster </dev/null >/dev/null 2>&1 9>&- || fail "sge_qmaster did not start"
    fi
    wait_for "sge_qmaster to answer" qmaster_answers
    # The configuration lives in the spool database: set it up once per database (each
    # qconf call takes ~0.15 s). The stamp goes when the database is recreated.
    if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
        configure
        echo "$WANT" >"$STAMP"
    fi
    if ! execd_pid >/dev/null; then
        sge_execd </dev/null >/dev/null 2>&1 9>&- || fail "sge_execd did not start"
    fi
    wait_for "queue $QUEUE@$HOST to be usable (states: '$(queue_states || true)')" queue_ready
    echo "sge up: queue $QUEUE@$HOST ($SLOTS slots), SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL" \
        "($(((${EPOCHREALTIME/./} - t0) / 1000)) ms)"
}

daemons_stopped() {
    ! execd_pid >/dev/null && ! qmaster_pid >/dev/null
}

cmd_down() {
    local i pid
    mkdir -p /var/tmp/troika-test
    exec 9>/var/tmp/troika-test/sge.lock
    flock 9
    if qmaster_pid >/dev/null && timeout 10 qconf -sh >/dev/null 2>&1; then
        # Jobs outlive the daemons and come back: delete them all first.
        if [ -n "$(timeout 10 qstat -u '*' 2>/dev/null || true)" ]; then
            timeout 30 qdel -f -u '*' >/dev/null 2>&1 || true
            for ((i = 0; i < 300; i++)); do
                [ -z "$(timeout 10 qstat -u '*' 2>/dev/null || true)" ] && break
                sleep 0.1
            done
        fi
    fi
    for pid in $(execd_pid) $(qmaster_pid); do kill "$pid" 2>/dev/null || true; done
    for ((i = 0; i < 300; i++)); do
        daemons_stopped && break
        sleep 0.1
    done
    if ! daemons_stopped; then
        log "daemons did not stop in 30 s, killing them"
        for pid in $(execd_pid) $(qmaster_pid); do kill -9 "$pid" 2>/dev/null || true; done
    fi
    echo "sge down"
}

cmd_status() {
    qmaster_pid >/dev/null || { echo "sge_qmaster not running"; return 1; }
    execd_pid >/dev/null || { echo "sge_execd not running"; return 1; }
    local st
    if ! st=$(queue_states); then
        echo "queue $QUEUE@$HOST: unreachable"
        return 1
    fi
    echo "queue $QUEUE@$HOST: ${st:-ok}"
    [ -z "$st" ]
}

cmd_env() {
    cat <<ENV
export TROIKA_TEST_SGE=1
export SGE_ROOT=$SGE_ROOT
export SGE_CELL=$SGE_CELL
export TROIKA_TEST_SGE_QUEUE=$QUEUE
export TROIKA_TEST_SGE_SLOTS=$SLOTS
ENV
}

case "${1:-}" in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    install) sge_install ;;
    *)
        echo "usage: $0 up|down|status|env|install" >&2
        exit 2
        ;;
esac
