# shellcheck shell=bash
# Shared by scripts/quickstart.sh and tests/run-all.sh. Source it, do not run it.
#
#   as_root CMD...     run CMD as root (through sudo when not root)
#   ensure_toolchain   install, only when missing: curl, a C toolchain and python3 (apt),
#                      then Rust stable with rustfmt and clippy (rustup)

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# log, die, apt_install
# shellcheck source-path=SCRIPTDIR source=../tests/services/common.sh
. "$REPO_ROOT/tests/services/common.sh"

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        # Keep the caller's PATH and Rust toolchain visible to the command.
        sudo env PATH="$PATH" RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}" \
            CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}" "$@"
    else
        die "root or sudo is needed to run: $*"
    fi
}

ensure_toolchain() {
    local pkgs=()
    command -v curl >/dev/null || pkgs+=(curl ca-certificates)
    # Rust links with `cc`; the C library headers and start files come with libc6-dev.
    { command -v cc >/dev/null && [ -e /usr/include/stdio.h ]; } || pkgs+=(gcc libc6-dev)
    command -v python3 >/dev/null || pkgs+=(python3)
    if [ "${#pkgs[@]}" != 0 ]; then
        # shellcheck disable=SC2016 # expanded by the inner shell
        as_root bash -c '. "$0" && apt_install "$@"' "$REPO_ROOT/tests/services/common.sh" "${pkgs[@]}"
    fi

    # A rustup installation whose bin directory is not on PATH (a fresh login, CI).
    if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
    if ! command -v cargo >/dev/null; then
        log "installing Rust stable with rustup"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
            sh -s -- -y --profile minimal -c rustfmt,clippy
        # shellcheck source=/dev/null
        . "$HOME/.cargo/env"
    fi
}
