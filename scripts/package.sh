#!/usr/bin/env bash
# Builds troika's Debian and RPM packages into target/packages/:
#   troika_VERSION-1_ARCH.deb   (cargo-deb)
#   troika-VERSION-1.ARCH.rpm   (cargo-generate-rpm)
# with the binary, the troika-qsub and troika-sbatch links, /etc/troika.yml (the built-in
# localhost site, kept on upgrades), the man pages, the bash/zsh/fish completions and the docs
# (the contents are listed in Cargo.toml, [package.metadata.deb] and
# [package.metadata.generate-rpm]). Installs the two cargo tools when missing.
#
#   scripts/package.sh [deb|rpm]...     (default: both)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source-path=SCRIPTDIR source=lib.sh
. scripts/lib.sh

# Versions that build with Rust 1.85 and later (cargo-deb 3.8 declares rust-version 1.85).
CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1

kinds=("$@")
[ "${#kinds[@]}" != 0 ] || kinds=(deb rpm)
for k in "${kinds[@]}"; do
    case $k in deb | rpm) ;; *) die "unknown package kind '$k' (deb or rpm)" ;; esac
done

ensure_toolchain

# cargo install --locked TOOL VERSION, unless that version is there already.
ensure_tool() {
    local crate=$1 version=$2 sub=$3
    if cargo "$sub" --version 2>/dev/null | grep -qF "$version"; then
        return
    fi
    log "installing $crate $version (cargo install --locked)"
    cargo install --locked "$crate" --version "$version"
}

out=target/packages
assets=$out/assets
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

# The pages are dated by the last commit, so a rebuild of the same sources makes the same files.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH

log "building troika (release)"
cargo build --release --locked --bin troika

log "generating the man pages and completions"
rm -rf "$assets"
cargo run --release --locked --quiet --example gen-docs -- "$assets"
# cargo-deb strips the binary it packs; cargo-generate-rpm does not: the .rpm takes this copy.
strip -o "$assets/troika" "$target_dir/release/troika"
gzip -9n "$assets"/man1/*.1 "$assets"/man5/*.5

built=()
for k in "${kinds[@]}"; do
    case $k in
    deb)
        ensure_tool cargo-deb "$CARGO_DEB_VERSION" deb
        rm -f "$out"/troika_*.deb
        cargo deb --no-build --locked --output "$out/" >&2
        built+=("$out"/troika_*.deb)
        ;;
    rpm)
        ensure_tool cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION" generate-rpm
        rm -f "$out"/troika-*.rpm
        cargo generate-rpm --target-dir "$target_dir" --output "$out/" >&2
        built+=("$out"/troika-*.rpm)
        ;;
    esac
done

printf 'built:\n' >&2
for f in "${built[@]}"; do
    printf '  %s (%s bytes)\n' "$f" "$(stat -c %s "$f")" >&2
done
