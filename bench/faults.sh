#!/usr/bin/env bash
# Submissions to the test Slurm cluster (tests/services/slurm.sh) through troika while sbatch
# fails: a wrapper sbatch fails FAULT_PCT % of the calls, half of them before submitting
# ("Unable to contact slurm controller"), half after the job was accepted ("Socket timed out on
# send/recv operation"). Then every job is counted by name in squeue and sacct: lost,
# duplicated, failed with a clear error. A second and third run without faults give the cost
# of the retry machinery (edition 2026, retries on) against none (retries: 0).
#
#   bench/faults.sh [N] [PARALLEL]      N submissions (10000), PARALLEL at a time (4)
#   FAULT_PCT=10 CLEAN_N=1000 bench/faults.sh
#
# A benchmark, not a test: it prints figures and never fails on them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N=${1:-10000}
PAR=${2:-4}
FAULT_PCT=${FAULT_PCT:-10}
CLEAN_N=${CLEAN_N:-1000}
eval "$(tests/services/slurm.sh env)"
cargo build --release --quiet
TROIKA=$PWD/target/release/troika
REAL=$(command -v sbatch)
W=$(mktemp -d /tmp/troika-bench-faults.XXXXXX)
# This run's jobs still queued at the end are cancelled: they only run `true`.
cleanup() {
    squeue -h -o '%i|%j' | grep -E "\|(f|c[1-4])$$-" | cut -d'|' -f1 | xargs -r scancel 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/bin" "$W/out"
cat >"$W/bin/sbatch" <<EOF
#!/bin/bash
r=\$(( \$(od -An -N2 -tu2 /dev/urandom) % 200 ))
if [ "\$r" -lt $((FAULT_PCT)) ]; then
    echo before >>"$W/faults"
    echo "sbatch: error: Batch job submission failed: Unable to contact slurm controller (connect failure)" >&2
    exit 1
fi
if [ "\$r" -lt $((2 * FAULT_PCT)) ]; then
    echo after >>"$W/faults"
    '$REAL' "\$@" >/dev/null || exit
    echo "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation" >&2
    exit 1
fi
exec '$REAL' "\$@"
EOF
chmod +x "$W/bin/sbatch"
site() { # NAME RETRIES
    printf '  %s:\n    type: slurm\n    connection: local\n    status_record: false\n    retries: %s\n    retry_delay: 0.5\n    retry_max_delay: 5\n' "$1" "$2"
}
{
    echo "edition: 2026"
    echo "ledger: $W/ledger"
    echo "sites:"
    site retry 6
    site none 0
} >"$W/troika.yml"

# run TAG SITE COUNT PATH: submits COUNT scripts named TAG-NNNNN, PAR at a time; prints seconds.
run() {
    local tag=$1 site=$2 count=$3 path=$4 i t0
    mkdir -p "$W/$tag"
    for ((i = 0; i < count; i++)); do
        printf '#!/bin/bash\n# troika name=%s-%05d\ntrue\n' "$tag" "$i" >"$W/$tag/$tag-$(printf %05d "$i").sh"
    done
    t0=${EPOCHREALTIME/./}
    # shellcheck disable=SC2016
    find "$W/$tag" -name '*.sh' -print0 | PATH=$path xargs -0 -P "$PAR" -I{} sh -c \
        '"$1" -c "$2" submit "$3" "$4" -o "$5/out/$(basename "$4").out" >/dev/null 2>&1 || echo "$4" >>"$5/failed-$6"' \
        sh "$TROIKA" "$W/troika.yml" "$site" {} "$W" "$tag"
    echo $(((${EPOCHREALTIME/./} - t0) / 1000))
}

# count TAG COUNT: waits for Slurm to show the jobs, prints "lost duplicated".
count() {
    local tag=$1 n=$2 i seen
    for ((i = 0; i < 120; i++)); do
        seen=$( { squeue -h -t all -o '%i|%j'; sacct -X -n -P -S now-14400 -o JobIDRaw,JobName; } |
            grep "|$tag-" | sort -u | cut -d'|' -f2 | sort -u | wc -l)
        [ "$seen" -ge "$n" ] && break
        sleep 2
    done
    sleep 5
    { squeue -h -t all -o '%i|%j'; sacct -X -n -P -S now-14400 -o JobIDRaw,JobName; } | grep "|$tag-" | sort -u >"$W/jobs-$tag"
    local names dups
    names=$(cut -d'|' -f2 "$W/jobs-$tag" | sort -u | wc -l)
    dups=$(cut -d'|' -f2 "$W/jobs-$tag" | sort | uniq -d | wc -l)
    echo "$((n - names)) $dups"
}

tag=f$$
echo "== $N submissions, $PAR at a time; $FAULT_PCT % of sbatch calls fail, half before submitting, half after"
ms=$(run "$tag" retry "$N" "$W/bin:$PATH")
failed=$(cat "$W/failed-$tag" 2>/dev/null | wc -l)
read -r lost dups < <(count "$tag" "$N")
before=$(grep -c before "$W/faults" || true)
after=$(grep -c after "$W/faults" || true)
adopted=$(grep -l "carries this submission's tag" "$W/$tag"/*.submitlog 2>/dev/null | wc -l)
retried=$(grep -l "failed transiently" "$W/$tag"/*.submitlog 2>/dev/null | wc -l)
echo "sbatch calls failed: $before before submitting, $after after"
echo "submissions: $N; succeeded $((N - failed)); failed with an error $failed; retried $retried; adopted after a lost answer $adopted"
echo "jobs in Slurm: lost $lost, duplicated $dups"
echo "time: $ms ms, $((ms * PAR * 1000 / N)) us of wall time per submission and worker"

echo "== $CLEAN_N submissions without faults: retries on (edition 2026) against retries: 0"
a=$(run c1$$ retry "$CLEAN_N" "$PATH")
b=$(run c2$$ none "$CLEAN_N" "$PATH")
c=$(run c3$$ retry "$CLEAN_N" "$PATH")
d=$(run c4$$ none "$CLEAN_N" "$PATH")
echo "retries on: $a ms and $c ms; retries off: $b ms and $d ms (per submission: $(((a + c) * 1000 / (2 * CLEAN_N))) us against $(((b + d) * 1000 / (2 * CLEAN_N))) us)"
