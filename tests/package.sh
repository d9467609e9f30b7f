#!/usr/bin/env bash
# The packages, end to end, on a Debian machine (root, or a user with sudo): builds the .deb
# with scripts/package.sh, installs it with dpkg, runs the installed troika (--version, its man
# pages, a job on localhost with /etc/troika.yml, the bash completion of `troika sub<TAB>`),
# removes and purges it and checks that its files are gone; builds the .rpm and checks its
# file list and metadata with rpm -qlp / -qip. tests/run-all.sh runs it after the cargo tests.
#
# It refuses to run where a troika package is installed already (it would remove it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source-path=SCRIPTDIR source=../scripts/lib.sh
. scripts/lib.sh

fail() { die "package test: $*"; }

if dpkg-query -W -f '${Status}' troika 2>/dev/null | grep -q 'install ok'; then
    fail "a troika package is installed on this machine: remove it first (dpkg -r troika)"
fi

pkgs=()
command -v man >/dev/null || pkgs+=(man-db)
command -v rpm >/dev/null || pkgs+=(rpm)
[ -f /usr/share/bash-completion/bash_completion ] || pkgs+=(bash-completion)
if [ "${#pkgs[@]}" != 0 ]; then
    # shellcheck disable=SC2016 # expanded by the inner shell
    as_root bash -c '. "$0" && apt_install "$@"' "$REPO_ROOT/tests/services/common.sh" "${pkgs[@]}"
fi

scripts/package.sh deb rpm
deb=$(ls target/packages/troika_*.deb)
rpm=$(ls target/packages/troika-*.rpm)

# Every file the .deb installs, to check that removal takes them away.
mapfile -t files < <(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }')
[ "${#files[@]}" -gt 20 ] || fail "the .deb holds only ${#files[@]} files"

log "installing $deb"
as_root dpkg -i "$deb"
trap 'as_root dpkg --purge troika >/dev/null 2>&1 || true' EXIT

for f in /usr/bin/troika /usr/bin/troika-qsub /usr/bin/troika-sbatch /etc/troika.yml \
    /usr/share/man/man1/troika.1.gz /usr/share/man/man1/troika-submit.1.gz \
    /usr/share/man/man5/troika.yml.5.gz /usr/share/bash-completion/completions/troika \
    /usr/share/zsh/vendor-completions/_troika /usr/share/fish/vendor_completions.d/troika.fish \
    /usr/share/doc/troika/README.md /usr/share/doc/troika/docs/configuration.md; do
    [ -e "$f" ] || fail "$f is not installed"
done
[ "$(readlink /usr/bin/troika-qsub)" = troika ] || fail "/usr/bin/troika-qsub is not a link to troika"
grep -qx /etc/troika.yml /var/lib/dpkg/info/troika.conffiles || fail "/etc/troika.yml is not a conffile"

version=$(/usr/bin/troika --version)
[ "$version" = "troika $(grep -m1 '^version' Cargo.toml | cut -d'"' -f2)" ] || fail "troika --version says '$version'"
for page in troika troika-submit troika-status troika.yml; do
    man -w "$page" >/dev/null || fail "man -w $page finds no page"
done
# The pages render without errors (tbl included for troika.yml(5)).
for page in troika troika-submit 5\ troika.yml; do
    # shellcheck disable=SC2086 # "5 troika.yml" is two words
    MANWIDTH=80 man $page 2>/dev/null | grep -q . || fail "man $page renders nothing"
done

# A job on localhost, with the installed configuration: named, and found by the prefix lookup
# (/usr/etc/troika.yml links to it).
work=$(mktemp -d)
chmod 755 "$work"
printf '#!/bin/sh\necho "hello from the package"\n' >"$work/job.sh"
chmod +x "$work/job.sh"
(cd "$work" && /usr/bin/troika -c /etc/troika.yml submit localhost job.sh -o "$work/out")
(cd "$work" && env -u TROIKA_CONFIG_FILE /usr/bin/troika -vv list-sites 2>"$work/list.log" | grep -q "^localhost  *direct  *local") ||
    fail "list-sites without -c: $(cat "$work/list.log")"
grep -q 'Using configuration file /usr/etc/troika.yml' "$work/list.log" ||
    fail "troika without -c does not read /usr/etc/troika.yml: $(cat "$work/list.log")"
for _ in $(seq 50); do
    grep -q 'hello from the package' "$work/out" 2>/dev/null && break
    sleep 0.2
done
grep -q 'hello from the package' "$work/out" || fail "the job on localhost wrote no output in $work/out"
rm -rf "$work"

# The completion, as bash calls it: _troika COMMAND WORD PREVIOUS_WORD.
# shellcheck disable=SC2016 # expanded by the inner shell
words=$(bash -c '. /usr/share/bash-completion/completions/troika
    COMP_WORDS=(troika sub); COMP_CWORD=1; COMP_LINE="troika sub"; COMP_POINT=${#COMP_LINE}
    _troika troika sub troika; echo "${COMPREPLY[*]}"')
[ "$words" = submit ] || fail "the bash completion of 'troika sub' offers '$words', not 'submit'"

log "removing the package"
as_root dpkg -r troika
[ -e /etc/troika.yml ] || fail "dpkg -r removed the conffile /etc/troika.yml (only a purge should)"
for f in "${files[@]}"; do
    [ "$f" = /etc/troika.yml ] && continue
    { [ -e "$f" ] || [ -L "$f" ]; } && fail "$f is still there after dpkg -r"
done
as_root dpkg --purge troika
[ -e /etc/troika.yml ] && fail "/etc/troika.yml is still there after dpkg --purge"
trap - EXIT

log "checking $rpm"
rpm_files=$(rpm -qlp "$rpm" 2>/dev/null)
for f in /usr/bin/troika /etc/troika.yml /usr/share/man/man1/troika.1.gz \
    /usr/share/man/man1/troika-submit.1.gz /usr/share/man/man5/troika.yml.5.gz \
    /usr/share/bash-completion/completions/troika /usr/share/zsh/site-functions/_troika \
    /usr/share/fish/vendor_completions.d/troika.fish /usr/share/doc/troika/README.md; do
    grep -qx "$f" <<<"$rpm_files" || fail "the .rpm does not hold $f"
done
[ "$(rpm -qp --configfiles "$rpm" 2>/dev/null)" = /etc/troika.yml ] || fail "the .rpm's config files are not just /etc/troika.yml"
# c: %config, n: noreplace (an upgrade keeps local edits).
rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' "$rpm" 2>/dev/null | grep -qx '/etc/troika.yml cn' ||
    fail "/etc/troika.yml is not %config(noreplace) in the .rpm"
info=$(rpm -qip "$rpm" 2>/dev/null)
for field in 'Name *: troika' 'Version *: [0-9]' 'License *: Apache-2.0' 'Summary *: .'; do
    grep -q "^$field" <<<"$info" || fail "the .rpm's metadata has no '$field': $info"
done
rpm -qp --scripts "$rpm" 2>/dev/null | grep -q 'ln -sf troika /usr/bin/troika-qsub' ||
    fail "the .rpm does not make the troika-qsub link"

printf 'package test: ok: %s (%s bytes), %s (%s bytes)\n' \
    "$deb" "$(stat -c %s "$deb")" "$rpm" "$(stat -c %s "$rpm")" >&2
