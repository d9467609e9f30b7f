# shellcheck shell=sh
# An EMULATOR of a PBS Pro / OpenPBS server for the test suite: no PBS server can run on
# these machines. Sourced by qsub, qstat, qdel and qsig in this directory.
#
# It answers with the output of the real commands, as documented and as printed by
# OpenPBS (messages from its error table; exit status = PBS error number mod 256):
#   qsub                       prints `<seq>.<server>`
#   unknown job                `<cmd>: Unknown Job Id <id>`                        exit 153
#   finished job (history)     `<cmd>: <id> Job has finished, use -x or -H to obtain
#                               historical job information`                        exit 35
#   qsig on a job not running  `qsig: Request invalid for state of job <id>`       exit 168
#   unknown queue              `qsub: Unknown queue`                               exit 170
#   bad -l value               `qsub: Illegal attribute or resource value Resource_List.<r>`
#                                                                                  exit 166
#   no server                  `<cmd>: cannot connect to server <server> (errno=15010)`
#                                                                                  exit 162
# Jobs really run, at once (or stay held with -h): as PBS's MoM does, the script runs in
# $HOME in a new session with a fresh environment (HOME, PATH, PBS_O_*, PBS_JOBID,
# PBS_JOBNAME, PBS_QUEUE, PBS_ENVIRONMENT, plus -v / -V variables), its output is spooled
# and delivered to the -o / -e paths when it ends (-j oe joins them; default paths
# <workdir>/<name>.o<seq> and .e<seq>). qdel of a running job sends SIGTERM, then SIGKILL
# after the kill delay; Exit_status of a job killed by signal N is 256 + N. Finished jobs
# stay in the history (qstat -x).
#
# Not emulated: scheduling (every job that is not held starts at once), nodes and
# resources (select/place/walltime are checked for syntax and recorded, not enforced),
# accounts, arrays, dependencies; directive arguments are split on blanks without quotes.
#
# Environment: TROIKA_PBS_EMULATOR_DIR     the server's state (required; a missing one is
#                                          a server that does not answer)
#              TROIKA_PBS_EMULATOR_SERVER  server name (default pbs-emu)
#              TROIKA_PBS_EMULATOR_QUEUES  known queues, blank-separated (default: workq)
#              TROIKA_PBS_EMULATOR_KILL_DELAY  seconds between qdel's SIGTERM and SIGKILL
#                                          (default 2; PBS's kill_delay, 10 by default)

# shellcheck disable=SC2034 # used by the commands that source this file
EMU_BIN=$(cd "$(dirname "$0")" && pwd)
SERVER=${TROIKA_PBS_EMULATOR_SERVER:-pbs-emu}
# shellcheck disable=SC2034
QUEUES=${TROIKA_PBS_EMULATOR_QUEUES:-workq}
# shellcheck disable=SC2034
KILL_DELAY=${TROIKA_PBS_EMULATOR_KILL_DELAY:-2}
STATE=${TROIKA_PBS_EMULATOR_DIR:-}

# connect CMD: fail like a PBS client without a server.
connect() {
    if [ -z "$STATE" ] || [ ! -d "$STATE" ]; then
        echo "$1: cannot connect to server $SERVER (errno=15010)" >&2
        exit 162
    fi
    mkdir -p "$STATE/jobs"
}

# full_id ID: the job id with the server name (`12` -> `12.pbs-emu`).
full_id() {
    case $1 in
        *.*) echo "$1" ;;
        *) echo "$1.$SERVER" ;;
    esac
}

# job_dir ID: the state directory of a job of this server, or nothing.
job_dir() {
    _id=$(full_id "$1")
    _seq=${_id%%.*}
    [ "${_id#*.}" = "$SERVER" ] || return 1
    case $_seq in '' | *[!0-9]*) return 1 ;; esac
    [ -d "$STATE/jobs/$_seq" ] || return 1
    echo "$STATE/jobs/$_seq"
}

# attr DIR NAME: an attribute of a job (one file per attribute).
attr() { cat "$1/$2" 2>/dev/null || true; }

# set_attr DIR NAME VALUE: write an attribute atomically.
set_attr() {
    printf '%s\n' "$3" >"$1/.$2.tmp" && mv -f "$1/.$2.tmp" "$1/$2"
}

unknown_job() {
    echo "$1: Unknown Job Id $(full_id "$2")" >&2
    return 153
}

finished_job() {
    echo "$1: $(full_id "$2") Job has finished, use -x or -H to obtain historical job information" >&2
    return 35
}

# signal_number NAME|NUMBER: `TERM`, `SIGTERM` or `15` -> 15 (Linux numbers); fails for
# unknown names.
signal_number() {
    case ${1#SIG} in
        HUP) echo 1 ;; INT) echo 2 ;; QUIT) echo 3 ;; ABRT) echo 6 ;; KILL) echo 9 ;;
        USR1) echo 10 ;; SEGV) echo 11 ;; USR2) echo 12 ;; PIPE) echo 13 ;; ALRM) echo 14 ;;
        TERM) echo 15 ;; CONT) echo 18 ;; STOP) echo 19 ;; TSTP) echo 20 ;; XCPU) echo 24 ;;
        '' | *[!0-9]*) return 1 ;;
        *) [ "$1" -ge 1 ] && [ "$1" -le 64 ] && echo "$1" ;;
    esac
}

# signal_job DIR SIGNUMBER: signal the job's process group (dash's kill takes no `--`).
signal_job() {
    kill "-$2" "-$(attr "$1" pid)" 2>/dev/null || true
}
