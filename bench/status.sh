#!/usr/bin/env bash
# The benchmark of `troika status` and of the job ledger (bench/README.md): starts the test
# Slurm cluster, builds troika, runs bench/status.py (options are passed on).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$repo/tests/services/slurm.sh" up >&2
(cd "$repo" && cargo build --release --quiet)
exec python3 "$repo/bench/status.py" "$@"
