#!/usr/bin/env bash
# An ecFlow server on 127.0.0.1 for the test suite (ecFlow calls troika for every task).
#
#   ecflow.sh up       install if needed, start a server on a free port; idempotent
#   ecflow.sh down     stop the server started by `up` (same state directory)
#   ecflow.sh status   exit 0 when the server answers a ping
#   ecflow.sh env      print `export` lines for the tests: eval "$(tests/services/ecflow.sh env)"
#   ecflow.sh install  only install the packages (ecflow-server ecflow-client) when missing
#
# Environment: TROIKA_TEST_ECFLOW_STATE  state directory (default /var/tmp/troika-test/ecflow);
#                holds home/ (the server's ECF_HOME: log and checkpoint files), port, pid and
#                server.out (the server's own output).
#
# The server is started with a job submission interval of 1 s (`--ecfinterval 1`, meant for
# tests) and restarted at once: a new ecFlow server starts HALTED and submits nothing.
# It listens on every address (ecflow_server has no bind option); clients use 127.0.0.1.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

STATE=${TROIKA_TEST_ECFLOW_STATE:-/var/tmp/troika-test/ecflow}
HOST=127.0.0.1
WAIT_SECS=30

ecflow_install() {
    ecflow_installed || apt_install "${ECFLOW_PACKAGES[@]}"
}

port() { cat "$STATE/port" 2>/dev/null; }

client() {
    ECF_HOST=$HOST ECF_PORT=$(port) timeout 20 ecflow_client "$@"
}

running() {
    local pid
    pid=$(cat "$STATE/pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ecflow_server ]
}

ping_ok() {
    [ -n "$(port)" ] && client --ping >/dev/null 2>&1
}

# A TCP port nobody listens on, from the range ecflow_server accepts (1024-49151).
free_port() {
    python3 - <<'PY'
import random, socket
for _ in range(200):
    p = random.randint(20000, 49151)
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port found")
PY
}

up() {
    if running && ping_ok; then
        return 0
    fi
    ecflow_install
    command -v ecflow_server >/dev/null || die "ecflow_server not found after installation"
    down_quiet
    mkdir -p "$STATE/home"
    local attempt
    # A port found free may be taken before the server binds it: try another.
    for attempt in 1 2 3; do
        start_server && return 0
        log "the server did not start on port $(port) (attempt $attempt)"
    done
    tail -n 20 "$STATE/server.out" >&2 || true
    die "the ecFlow server did not start (state directory $STATE)"
}

# start_server: start on a free port; 0 once it answers, 1 if it exits first.
start_server() {
    local p pid i
    p=$(free_port)
    echo "$p" >"$STATE/port"
    # The server changes to ECF_HOME; LANG must name a valid locale or it aborts.
    (
        cd "$STATE/home"
        ECF_HOME="$STATE/home" ECF_PORT=$p LANG=C LC_ALL=C \
            nohup ecflow_server --port "$p" --ecfinterval 1 >"$STATE/server.out" 2>&1 </dev/null &
        echo $! >"$STATE/pid"
    )
    pid=$(cat "$STATE/pid")
    for ((i = 0; i < WAIT_SECS * 10; i++)); do
        if ping_ok; then
            client --restart >/dev/null
            log "ecFlow server up on $HOST:$p (pid $pid, ECF_HOME $STATE/home)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    return 1
}

down_quiet() {
    local pid i
    if running; then
        pid=$(cat "$STATE/pid")
        client --terminate=yes >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$STATE/pid"
}

case ${1:-} in
up) up ;;
down) down_quiet ;;
status) running && ping_ok ;;
env)
    [ -n "$(port)" ] || die "no server state in $STATE: run '$0 up' first"
    # Not ECF_HOST/ECF_PORT: ecflow_client would pick those up in every test that runs it.
    echo "export TROIKA_TEST_ECF_HOST=$HOST"
    echo "export TROIKA_TEST_ECF_PORT=$(port)"
    ;;
install) ecflow_install ;;
*)
    echo "usage: $0 up|down|status|env|install" >&2
    exit 2
    ;;
esac
