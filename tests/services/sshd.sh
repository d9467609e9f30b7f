#!/usr/bin/env bash
# An OpenSSH server on 127.0.0.1 for the tests of the ssh connection.
#
#   sshd.sh up      install openssh-server if needed, create the test users and keys, start sshd
#   sshd.sh down    stop sshd
#   sshd.sh status  exit 0 when a key login works
#   sshd.sh env     export lines for the tests
#
# Two unprivileged users log in with a generated key: troika-ssh1 (the default user of the
# tests) and troika-ssh2 (for -u). The client side is a private ssh config (host alias
# `troika-test`) passed with -F, so the machine's own ssh configuration is not touched.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=common.sh
. "$here/common.sh"

state=${TROIKA_TEST_SSHD_STATE:-/var/tmp/troika-test/sshd}
port=${TROIKA_TEST_SSHD_PORT:-22022}
users=(troika-ssh1 troika-ssh2)

client_ok() {
    timeout 10 ssh -F "$state/ssh_config" "${users[0]}@troika-test" true >/dev/null 2>&1
}

up() {
    [ -x /usr/sbin/sshd ] || apt_install openssh-server
    mkdir -p "$state/authorized_keys" /run/sshd
    chmod 0755 /run/sshd
    [ -f "$state/ssh_host_ed25519_key" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/ssh_host_ed25519_key"
    [ -f "$state/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$state/id_ed25519"
    for u in "${users[@]}"; do
        if ! id "$u" >/dev/null 2>&1; then
            useradd -m -s /bin/bash "$u"
        fi
        # useradd leaves the password field '!', which sshd treats as locked without PAM.
        usermod -p '*' "$u"
        cp "$state/id_ed25519.pub" "$state/authorized_keys/$u"
    done
    chmod 0755 "$state" "$state/authorized_keys"
    chmod 0644 "$state"/authorized_keys/*
    cat >"$state/sshd_config" <<CFG
ListenAddress 127.0.0.1
Port $port
HostKey $state/ssh_host_ed25519_key
PidFile $state/sshd.pid
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile $state/authorized_keys/%u
Subsystem sftp internal-sftp
MaxSessions 100
MaxStartups 100:30:200
PrintMotd no
CFG
    cat >"$state/ssh_config" <<CFG
Host troika-test
    HostName 127.0.0.1
    Port $port
    IdentityFile $state/id_ed25519
    IdentitiesOnly yes
    UserKnownHostsFile $state/known_hosts
    StrictHostKeyChecking accept-new
    BatchMode yes
CFG
    chmod 0644 "$state/ssh_config" "$state/id_ed25519.pub"
    chmod 0600 "$state/id_ed25519"
    if [ -f "$state/sshd.pid" ] && kill -0 "$(cat "$state/sshd.pid")" 2>/dev/null; then
        if client_ok; then log "sshd already running on 127.0.0.1:$port"; return 0; fi
        kill "$(cat "$state/sshd.pid")" || true
        sleep 0.2
    fi
    /usr/sbin/sshd -f "$state/sshd_config" -E "$state/sshd.log"
    for _ in $(seq 100); do
        if client_ok; then log "sshd up on 127.0.0.1:$port (users ${users[*]})"; return 0; fi
        sleep 0.1
    done
    tail -n 20 "$state/sshd.log" >&2 || true
    die "sshd did not accept a key login on 127.0.0.1:$port"
}

down() {
    if [ -f "$state/sshd.pid" ]; then
        kill "$(cat "$state/sshd.pid")" 2>/dev/null || true
        rm -f "$state/sshd.pid"
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) client_ok ;;
    env)
        echo "export TROIKA_TEST_SSHD=1"
        echo "export TROIKA_TEST_SSH_CONFIG=$state/ssh_config"
        echo "export TROIKA_TEST_SSH_HOST=troika-test"
        echo "export TROIKA_TEST_SSH_USER=${users[0]}"
        echo "export TROIKA_TEST_SSH_USER2=${users[1]}"
        echo "export TROIKA_TEST_SSHD_PORT=$port"
        ;;
    *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
