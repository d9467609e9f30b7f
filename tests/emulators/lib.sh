# Shared by the scheduler emulators (tests/emulators/<system>/*): POSIX sh.
#
# The emulators stand in for the commands of queueing systems that cannot
# run on the development machines (Torque, LSF, Flux). They keep their state
# in the directory named by TROIKA_EMU_STATE:
#   calls.log          every call: "=== NAME", "argv[N]=...", the standard
#                      input read (between "--- stdin" and "--- end stdin")
#   next_id            the last job number handed out
#   jobs/ID/state      the job's state in the system's own words
#   jobs/ID/script     the script as submitted; jobs/ID/signals the signals
#   fail/NAME          make NAME fail: first line the exit code, the rest
#                      printed on standard error
#   stdout/NAME        make NAME succeed printing this file instead of its
#                      normal answer (unparseable output)

: "${TROIKA_EMU_STATE:?TROIKA_EMU_STATE must name the emulator state directory}"
S=$TROIKA_EMU_STATE
mkdir -p "$S/jobs"

# emu_record NAME ARGS...: logs the call.
emu_record() {
    name=$1
    shift
    {
        echo "=== $name"
        i=1
        for a in "$@"; do
            echo "argv[$i]=$a"
            i=$((i + 1))
        done
    } >>"$S/calls.log"
}

# emu_record_stdin FILE: logs the standard input that was saved in FILE.
emu_record_stdin() {
    {
        echo "--- stdin"
        cat "$1"
        echo "--- end stdin"
    } >>"$S/calls.log"
}

# emu_injected NAME: applies fail/NAME or stdout/NAME, if present (exits).
emu_injected() {
    if [ -f "$S/fail/$1" ]; then
        code=$(head -n 1 "$S/fail/$1")
        tail -n +2 "$S/fail/$1" >&2
        exit "$code"
    fi
    if [ -f "$S/stdout/$1" ]; then
        cat "$S/stdout/$1"
        exit 0
    fi
}

# emu_next_id: the next job number.
emu_next_id() {
    n=0
    [ -f "$S/next_id" ] && n=$(cat "$S/next_id")
    n=$((n + 1))
    echo "$n" >"$S/next_id"
    echo "$n"
}

# emu_directive FILE PREFIX OPTION: the value of the last "PREFIX OPTION value"
# line of FILE (e.g. "#PBS" "-N"), empty if none.
emu_directive() {
    awk -v p="$2" -v o="$3" '$1 == p && $2 == o { v = $3 } END { print v }' "$1"
}
