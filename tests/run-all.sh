#!/usr/bin/env bash
# The test command of the project. On a Debian 12 machine (root, or a user with sudo) it
# installs what is missing, starts the test services of tests/services/ (a one-node Slurm
# cluster, an sshd on 127.0.0.1, ...), checks formatting and lints, and runs every test (unit
# and integration) in release mode.
# Extra arguments go to `cargo test` (for instance a test name filter).
#
#   tests/run-all.sh [CARGO_TEST_ARGS...]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source-path=SCRIPTDIR source=../scripts/lib.sh
. scripts/lib.sh

start=$SECONDS
steps=()
current=
log_file=target/run-all.log
mkdir -p target
: >"$log_file"

step() {
    current=$1
    printf '\n==> %s\n' "$current" >&2
    step_start=$SECONDS
}
done_step() { steps+=("$(printf '%-44s %4d s' "$current" $((SECONDS - step_start)))"); }

summary() {
    local rc=$? s
    printf '\n==> summary\n' >&2
    for s in "${steps[@]}"; do printf '  ok      %s\n' "$s" >&2; done
    if [ "$rc" != 0 ]; then
        printf '  FAILED  %s\n' "$current" >&2
    fi
    if [ -s "$log_file" ]; then
        awk '/^test result:/ { n++; p += $4; f += $6; i += $8 }
             END { if (n) printf "  tests:  %d passed, %d failed, %d ignored\n", p, f, i }' \
            "$log_file" >&2
    fi
    if [ "$rc" = 0 ]; then
        printf 'ALL PASSED in %d s\n' $((SECONDS - start)) >&2
    else
        printf 'FAILED (exit %d) after %d s\n' "$rc" $((SECONDS - start)) >&2
    fi
}
trap summary EXIT

step "toolchain and test dependencies"
ensure_toolchain
as_root tests/services/install-deps.sh
done_step

# Every script in tests/services/ but the two helpers starts one service (`up`, idempotent)
# and prints the environment the tests need to find it (`env`).
services=()
for svc in tests/services/*.sh; do
    case $svc in */common.sh | */install-deps.sh) continue ;; esac
    services+=("$svc")
done
step "services: $(basename -a -s .sh "${services[@]}" | paste -sd ' ')"
for svc in "${services[@]}"; do
    as_root "$svc" up
    eval "$("$svc" env)"
done
done_step

step "cargo fmt --check"
cargo fmt --check
done_step

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
done_step

step "cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
done_step

step "cargo test --release"
# Every service is there: a test that cannot reach one fails instead of being skipped.
TROIKA_TEST_REQUIRE_SERVICES=1 cargo test --release "$@" 2>&1 | tee "$log_file"
done_step

# Build the .deb and .rpm, install the .deb, use the installed troika, remove it; inspect the
# .rpm. After the cargo tests, as the install touches the machine (/usr/bin, /etc).
step "packages: .deb installed, used, removed; .rpm inspected"
tests/package.sh
done_step
