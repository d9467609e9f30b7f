#!/usr/bin/env bash
# The side-by-side benchmark against troika 0.2.7, in one command:
#
#   bench/run.sh [--quick] [--cases startup,direct,slurm,ssh,big,scale,concurrent] [bench.py options]
#
# Installs what is missing (hyperfine and GNU time from Debian, troika 0.2.7 from PyPI in a
# virtual environment), builds the release binary, starts the local Slurm cluster and sshd
# (tests/services/), measures both programs and writes bench/RESULTS.md. It reports whether
# each target is met; it does not fail on a missed target. Takes about 20 minutes.
#
# Environment: TROIKA_BENCH_DIR  scratch directory (default /var/tmp/troika-bench)
#              TROIKA_BIN        measure this binary instead of building target/release/troika
#              TROIKA_REF        measure this troika 0.2.7 instead of installing one
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../tests/services/common.sh
. "$repo/tests/services/common.sh"
work=${TROIKA_BENCH_DIR:-/var/tmp/troika-bench}
mkdir -p "$work"

command -v hyperfine >/dev/null || apt_install hyperfine
[ -x /usr/bin/time ] || apt_install time
command -v python3 >/dev/null || apt_install python3

ref=${TROIKA_REF:-}
if [ -z "$ref" ]; then
    venv=$work/venv-0.2.7
    ref=$venv/bin/troika
    if ! "$ref" --version 2>/dev/null | grep -qx 'troika 0.2.7'; then
        log "installing troika 0.2.7 from PyPI into $venv"
        rm -rf "$venv"
        if ! python3 -m venv "$venv" 2>/dev/null; then
            # Debian's python3 needs python3-venv for ensurepip.
            apt_install python3-venv
            python3 -m venv "$venv"
        fi
        "$venv/bin/pip" install -q --disable-pip-version-check troika==0.2.7
    fi
fi

bin=${TROIKA_BIN:-}
if [ -z "$bin" ]; then
    log "building the release binary"
    (cd "$repo" && cargo build --release --quiet)
    bin=$repo/target/release/troika
fi

args=()
if "$repo/tests/services/slurm.sh" up >&2; then
    :
else
    log "no Slurm cluster: the Slurm, ssh and concurrent cases are skipped"
    args+=(--no-slurm)
fi
if "$repo/tests/services/sshd.sh" up >&2; then
    eval "$("$repo/tests/services/sshd.sh" env)"
    args+=(--ssh-config "$TROIKA_TEST_SSH_CONFIG" --ssh-host "$TROIKA_TEST_SSH_HOST"
        --ssh-user "$TROIKA_TEST_SSH_USER")
else
    log "no sshd: the ssh cases are skipped"
fi

exec python3 "$repo/bench/bench.py" --troika "$bin" --ref "$ref" --work "$work" \
    --out "$repo/bench/RESULTS.md" "${args[@]}" "$@"
