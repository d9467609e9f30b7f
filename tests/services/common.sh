# shellcheck shell=bash
# Shared helpers for the service scripts in this directory. Source it, do not run it.

# Daemons and admin tools live in sbin; make sure they are found even with a user's PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="/usr/sbin:/sbin:$PATH" ;; esac
export PATH

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt_install PKG...: install Debian packages non-interactively, without letting their
# maintainer scripts start daemons. `apt-get update` runs only when the install fails
# without it (stale package lists are the usual cause).
apt_install() {
    [ "$(id -u)" = 0 ] || die "installing $* needs root"
    local policy=/usr/sbin/policy-rc.d ours=0 rc=0
    # A policy-rc.d that exits 101 forbids service starts. Leave an existing one alone.
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 0755 "$policy"
        ours=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT   # also if we are interrupted
    fi
    # Wait for another apt/dpkg run to release its lock instead of failing at once.
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=300
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
    log "installing: $*"
    if ! "${apt[@]}" install --no-install-recommends "$@" >/tmp/troika-apt.log 2>&1; then
        log "install failed, retrying after apt-get update"
        if ! { "${apt[@]}" update && "${apt[@]}" install --no-install-recommends "$@"; } \
            >>/tmp/troika-apt.log 2>&1; then
            rc=1
        fi
    fi
    if [ "$ours" = 1 ]; then rm -f "$policy"; trap - EXIT; fi
    if [ "$rc" != 0 ]; then
        tail -n 20 /tmp/troika-apt.log >&2
        die "apt-get install $* failed (full log: /tmp/troika-apt.log)"
    fi
}

# Packages for the single-node Slurm cluster (slurm.sh), and whether they are installed:
#   slurm-wlm, munge         slurmctld, slurmd, the client commands; munge authentication
#   slurmdbd                 the accounting daemon behind sacct (it pulls in
#                            slurm-wlm-mysql-plugin, its MySQL/MariaDB storage plugin)
#   mariadb-server-core      mariadbd and mariadb-install-db: the database slurmdbd stores into
#                            (not mariadb-server: no Debian instance, init scripts, galera or perl)
#   mariadb-client-core      the mariadb client, to ping the server and create slurmdbd's user
# shellcheck disable=SC2034 # used by the scripts that source this file
SLURM_PACKAGES=(slurm-wlm munge slurmdbd slurm-wlm-mysql-plugin mariadb-server-core mariadb-client-core)
slurm_installed() {
    command -v slurmctld && command -v slurmd && command -v sbatch && command -v munged &&
        command -v slurmdbd && command -v sacct && command -v mariadbd && command -v mariadb-install-db &&
        command -v mariadb && compgen -G "/usr/lib/*/slurm-wlm/accounting_storage_mysql.so"
} >/dev/null

# Packages for the single-host Grid Engine cell (sge.sh), and whether they are installed.
# shellcheck disable=SC2034 # used by the scripts that source this file
SGE_PACKAGES=(gridengine-master gridengine-exec gridengine-client)
sge_installed() {
    command -v sge_qmaster && command -v sge_execd && command -v qsub && command -v qconf &&
        [ -x /usr/share/gridengine/scripts/init_cluster ]
} >/dev/null

# Answers for the packages' questions: create the cell `default` with this host as master
# (without them the package leaves act_qmaster empty). Run before installing SGE_PACKAGES.
sge_preseed() {
    printf '%s\n' \
        "gridengine-common shared/gridengineconfig boolean true" \
        "gridengine-common shared/gridenginecell string default" \
        "gridengine-common shared/gridenginemaster string $(hostname)" | debconf-set-selections
}

# Packages for the ecFlow server of the end-to-end test (ecflow.sh), and whether they are installed.
# shellcheck disable=SC2034 # used by the scripts that source this file
ECFLOW_PACKAGES=(ecflow-server ecflow-client)
ecflow_installed() {
    { command -v ecflow_server || [ -x /usr/sbin/ecflow_server ]; } && command -v ecflow_client
} >/dev/null
