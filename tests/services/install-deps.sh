#!/usr/bin/env bash
# Install, only when missing, what the test suite needs on a Debian machine:
# Slurm + munge + slurmdbd + MariaDB (for tests/services/slurm.sh), Grid Engine (for
# tests/services/sge.sh), the ecFlow server and client (for tests/services/ecflow.sh), ps,
# python3, and rustfmt/clippy.
# Idempotent; takes a fraction of a second when everything is present.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

pkgs=()
slurm_installed || pkgs+=("${SLURM_PACKAGES[@]}")
if ! sge_installed; then
    sge_preseed # the packages then create the cell with this host as master
    pkgs+=("${SGE_PACKAGES[@]}")
fi
ecflow_installed || pkgs+=("${ECFLOW_PACKAGES[@]}")
command -v ps >/dev/null || pkgs+=(procps)
command -v python3 >/dev/null || pkgs+=(python3)
# One apt-get run for everything missing.
[ "${#pkgs[@]}" = 0 ] || apt_install "${pkgs[@]}"

components=()
cargo fmt --version >/dev/null 2>&1 || components+=(rustfmt)
cargo clippy --version >/dev/null 2>&1 || components+=(clippy)
if [ "${#components[@]}" != 0 ]; then
    command -v rustup >/dev/null || die "rustup not found; cannot add ${components[*]}"
    log "adding Rust components: ${components[*]}"
    rustup component add "${components[@]}"
fi
