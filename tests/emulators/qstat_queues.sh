# shellcheck shell=sh
# Shared by the PBS and Torque emulators' qstat: the answers of `qstat -Q -f`
# and `qstat -B -f`, in the form qstat(1B) documents for both (PBS Pro /
# OpenPBS Reference Guide, "qstat"; Torque Administrator Guide, qstat):
#   Queue: NAME                          Server: NAME
#       queue_type = Execution               server_state = Active
#       total_jobs = N                       default_queue = QUEUE
#       state_count = Transit:0 Queued:N ...
#       resources_max.walltime = 01:00:00
#       enabled = True
#       started = True
# blocks separated by an empty line. The queues are the files of the
# directory DIR/queues/ (one per queue, named after it, in the order of
# their names): their lines are `name = value` attributes printed as they
# are (enabled = False, resources_max.mem = 4gb, ...); a queue whose file
# does not say `enabled` or `started` has it True. Without that directory,
# the queues are DEFAULT_QUEUES (blank-separated), all enabled and started.
# The default queue is the file DIR/default_queue, else the first queue.

# qstat_queue_names DIR DEFAULT_QUEUES: the queues, one a line.
qstat_queue_names() {
    if [ -d "$1/queues" ]; then
        (cd "$1/queues" && for q in *; do [ -f "$q" ] && echo "$q"; done)
    else
        for q in $2; do echo "$q"; done
    fi
}

# qstat_queues_full DIR DEFAULT_QUEUES [QUEUE...]: `qstat -Q -f [QUEUE...]`.
# total_jobs counts the files DIR/jobs/*/queue naming the queue. A queue
# the server does not have: `qstat: Unknown queue NAME`, exit 170
# (PBSE_UNKQUE).
qstat_queues_full() {
    dir=$1 all=$2
    shift 2
    # shellcheck disable=SC2046 # queue names hold no blanks
    [ $# -gt 0 ] || set -- $(qstat_queue_names "$dir" "$all")
    rc=0
    for q in "$@"; do
        if ! qstat_queue_names "$dir" "$all" | grep -qx "$q"; then
            echo "qstat: Unknown queue $q" >&2
            rc=170
            continue
        fi
        f=$dir/queues/$q
        [ -f "$f" ] || f=/dev/null
        n=$(cat "$dir"/jobs/*/queue 2>/dev/null | grep -cx "$q")
        echo "Queue: $q"
        grep -q '^ *queue_type *=' "$f" || echo "    queue_type = Execution"
        echo "    total_jobs = $n"
        echo "    state_count = Transit:0 Queued:$n Held:0 Waiting:0 Running:0 Exiting:0 Begun:0"
        sed -e '/^ *$/d' -e 's/^ */    /' "$f"
        grep -q '^ *enabled *=' "$f" || echo "    enabled = True"
        grep -q '^ *started *=' "$f" || echo "    started = True"
        echo
    done
    return $rc
}

# qstat_server_full DIR DEFAULT_QUEUES SERVER: `qstat -B -f`.
qstat_server_full() {
    default=$(cat "$1/default_queue" 2>/dev/null || qstat_queue_names "$1" "$2" | head -n 1)
    echo "Server: $3"
    echo "    server_state = Active"
    echo "    scheduling = True"
    echo "    total_jobs = $(find "$1/jobs" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)"
    echo "    default_queue = $default"
    echo
}
