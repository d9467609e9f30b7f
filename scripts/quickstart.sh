#!/usr/bin/env bash
# A first run of troika: install the toolchain if missing, build the release binary, then
# submit a small job to the built-in site `localhost` (direct execution on this machine),
# monitor it and show the files troika writes. No configuration file is needed.
#
#   scripts/quickstart.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

ensure_toolchain
echo "==> cargo build --release"
cargo build --release
troika=$PWD/target/release/troika

work=$(mktemp -d "${TMPDIR:-/tmp}/troika-quickstart.XXXXXX")
cd "$work"
echo "==> working in $work"

# A job script with troika directives. The direct site has no scheduler, so the
# directives are only removed; a Slurm site would turn them into #SBATCH lines.
cat >hello.sh <<'JOB'
#!/bin/bash
# troika name=hello
# troika walltime=00:05:00
echo "Hello from $(hostname), process $$"
sleep 3
echo "Goodbye"
JOB
chmod +x hello.sh

run() {
    echo "\$ troika ${*:2}"
    "$@"
}

# wait_for FILE TEXT: until FILE contains TEXT (at most 30 s).
wait_for() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    die "no '$2' in $1 after 30 s"
}

show() {
    local f
    for f; do
        printf '\n--- %s\n' "$f"
        cat "$f"
    done
}

echo
run "$troika" submit localhost hello.sh -o hello.out
wait_for hello.out Hello
# The job is still running (it sleeps): its process appears in the status file.
run "$troika" monitor localhost hello.sh
wait_for hello.out Goodbye
# The job wrote how it ended beside its output; status tells it in troika's words.
wait_for hello.out.status exit=
run "$troika" status localhost hello.sh

show hello.sh.jid hello.out hello.out.status hello.sh.orig hello.sh hello.sh.stat
printf '\n--- files\n'
ls -l
cat <<END

hello.sh.jid holds the job id (for the direct site, the process id); hello.sh is the
generated script, hello.sh.orig the original; hello.sh.stat is what monitor found, its
first line in troika's words; hello.out.status is the record the job wrote of its start and
end. Each action also logs at DEBUG level to hello.sh.<action>log.

Try next, in $work (with alias troika=$troika):
  troika -n submit localhost hello.sh -o hello.out   # dry run: reports, runs nothing
  troika list-sites
  troika jobs --since 1h                              # the jobs you submitted (the job ledger)
Then README.md for the configuration of real sites (Slurm), and tests/run-all.sh.
END
