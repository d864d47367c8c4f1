#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback, for the Galera integration suite
# (tests/it/galera.rs). Usage:
#
#   .ci/galera.sh start DIR   # datadirs, sockets, logs and pid files under DIR; waits until
#                             # wsrep_cluster_size=3 and every node is Synced
#   .ci/galera.sh stop DIR    # stops the nodes started in DIR, by pid
#
# Client ports 23306/23307/23308 (root over TCP, empty password, database `test`), group
# communication 24567/24577/24587, IST 24568/24578/24588, rsync SST 24569/24579/24589.
# All below Linux's ephemeral range (32768-60999 by default): a port in that range can be taken
# by any outgoing connection at any moment, and once was, by one made during a joiner's SST, so
# the joiner's IST listener failed to bind and the node aborted.
# GALERA_PROVIDER overrides the provider library (default: the galera-4 package's).
# Then: export PIM_TEST_GALERA_URLS=mysql://root@127.0.0.1:23306/test,mysql://root@127.0.0.1:23307/test,mysql://root@127.0.0.1:23308/test
set -euo pipefail

NODES=(1 2 3)
client_port() { echo $((23305 + $1)); }
gcomm_port() { echo $((24557 + 10 * $1)); }
ist_port() { echo $((24558 + 10 * $1)); }
sst_port() { echo $((24559 + 10 * $1)); }

log() { printf '== galera: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

provider() {
    if [[ -n "${GALERA_PROVIDER:-}" ]]; then echo "$GALERA_PROVIDER"; return; fi
    local p
    p=$(dpkg -L galera-4 2>/dev/null | grep -m1 '/libgalera_smm\.so$' || true)
    [[ -n "$p" && -f "$p" ]] || die "libgalera_smm.so not found (install galera-4 or set GALERA_PROVIDER)"
    echo "$p"
}

# The client, as root over the node's socket (no password, no network involved).
sql() { # node, statement
    mariadb --no-defaults -u root --socket="$DIR/n$1/mysqld.sock" -N -B -e "$2"
}

status_of() { # node, wsrep status variable
    sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | awk '{print $2}'
}

port_free() { ! ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# Warns when a port lies in the kernel's ephemeral range (see the header): the start may then
# fail at random on a port some outgoing connection holds.
warn_if_ephemeral() { # port
    local lo hi
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
    if (($1 >= lo && $1 <= hi)); then
        log "warning: port $1 is in the ephemeral range $lo-$hi; an outgoing connection may take it"
    fi
}

start_node() { # node, extra args...
    local n=$1; shift
    local d="$DIR/n$n" cluster="" m
    for m in "${NODES[@]}"; do cluster+="127.0.0.1:$(gcomm_port "$m"),"; done
    cluster=${cluster%,}
    # --no-defaults: nothing from /etc/mysql leaks in; every setting is here.
    mariadbd --no-defaults --user="$RUN_AS" \
        --datadir="$d/data" --socket="$d/mysqld.sock" --pid-file="$d/mysqld.pid" \
        --log-error="$d/error.log" --port="$(client_port "$n")" --bind-address=127.0.0.1 \
        --skip-name-resolve --performance-schema=OFF --innodb-buffer-pool-size=64M \
        --innodb-log-file-size=32M --innodb-flush-log-at-trx-commit=2 \
        --binlog-format=ROW --innodb-autoinc-lock-mode=2 --default-storage-engine=InnoDB \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
        --wsrep-on=ON --wsrep-provider="$PROVIDER" --wsrep-cluster-name=pim_galera \
        --wsrep-cluster-address="gcomm://$cluster" \
        --wsrep-node-name="n$n" --wsrep-node-address="127.0.0.1:$(gcomm_port "$n")" \
        --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=32M" \
        --wsrep-sst-receive-address="127.0.0.1:$(sst_port "$n")" --wsrep-sst-method=rsync \
        "$@" >>"$d/stdout.log" 2>&1 &
    echo $! >"$d/launcher.pid"
}

wait_synced() { # node, seconds
    local n=$1 deadline=$((SECONDS + $2))
    while ((SECONDS < deadline)); do
        if [[ "$(status_of "$n" wsrep_local_state_comment)" == Synced ]]; then return 0; fi
        kill -0 "$(cat "$DIR/n$n/launcher.pid")" 2>/dev/null || {
            tail -n 30 "$DIR/n$n/error.log" >&2 || true
            die "node $n exited during start-up (log: $DIR/n$n/error.log)"
        }
        sleep 0.2
    done
    tail -n 30 "$DIR/n$n/error.log" >&2 || true
    die "node $n not Synced after $2 s (log: $DIR/n$n/error.log)"
}

cmd_start() {
    local t0=$SECONDS n p
    PROVIDER=$(provider)
    # The nodes run as the `mysql` account when started by root, as packaged servers do: the
    # joiner's rsync SST daemon, started by root, would switch to `nobody` and be refused
    # the datadir.
    RUN_AS=$(id -un)
    if [[ $RUN_AS == root ]]; then
        id mysql >/dev/null 2>&1 || die "running as root needs the 'mysql' account to run the nodes"
        RUN_AS=mysql
    fi
    for n in "${NODES[@]}"; do
        [[ -e "$DIR/n$n/mysqld.pid" ]] && kill -0 "$(cat "$DIR/n$n/mysqld.pid")" 2>/dev/null &&
            die "node $n in $DIR is already running; '$0 stop $DIR' first"
        for p in "$(client_port "$n")" "$(gcomm_port "$n")" "$(ist_port "$n")" "$(sst_port "$n")"; do
            port_free "$p" || die "port $p is in use"
            warn_if_ephemeral "$p"
        done
    done
    mkdir -p "$DIR"
    chmod 0755 "$DIR"
    # A start that fails half-way stops whatever it started.
    trap 'log "start failed; stopping the nodes started so far"; cmd_stop' EXIT
    # One system database, copied to every node: the joiners get the donor's state by rsync
    # SST anyway, and one mariadb-install-db is a third of the work.
    local tmpl="$DIR/template"
    rm -rf "$tmpl"
    mariadb-install-db --no-defaults --user="$RUN_AS" --datadir="$tmpl" --skip-test-db \
        --auth-root-authentication-method=normal >"$DIR/install-db.log" 2>&1 ||
        { cat "$DIR/install-db.log" >&2; die "mariadb-install-db failed"; }
    for n in "${NODES[@]}"; do
        rm -rf "$DIR/n$n"
        mkdir -p "$DIR/n$n"
        cp -a "$tmpl" "$DIR/n$n/data"
        [[ $RUN_AS == "$(id -un)" ]] || chown -R "$RUN_AS:" "$DIR/n$n"
    done
    if [[ $RUN_AS != "$(id -un)" ]] && ! runuser -u "$RUN_AS" -- test -w "$DIR/n1"; then
        die "$RUN_AS cannot reach $DIR: make its parent directories searchable (chmod o+x)"
    fi
    rm -rf "$tmpl"

    start_node 1 --wsrep-new-cluster
    wait_synced 1 30
    # Root over TCP from loopback with an empty password, and the database the URLs name.
    # Run on node 1 before the joiners arrive: they receive it by SST.
    sql 1 "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
           GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
           CREATE DATABASE IF NOT EXISTS test CHARACTER SET utf8mb4;"
    # Joiners one at a time: two simultaneous rsync SSTs from one donor queue up anyway.
    start_node 2
    wait_synced 2 40
    start_node 3
    wait_synced 3 40
    local size
    for n in "${NODES[@]}"; do
        size=$(status_of "$n" wsrep_cluster_size)
        [[ "$size" == 3 ]] || die "node $n sees a cluster of $size nodes, not 3"
    done
    trap - EXIT
    log "3 nodes Synced in $((SECONDS - t0)) s (client ports $(client_port 1)-$(client_port 3), dir $DIR)"
}

cmd_stop() {
    local n pid stopped=()
    # Last joiner first; the bootstrap node last, so it leaves a clean grastate.dat.
    for n in 3 2 1; do
        [[ -f "$DIR/n$n/launcher.pid" ]] || continue
        pid=$(cat "$DIR/n$n/launcher.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            stopped+=("$n:$pid")
        fi
    done
    for entry in "${stopped[@]}"; do
        n=${entry%%:*} pid=${entry#*:}
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            log "node $n (pid $pid) did not stop in 30 s; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        rm -f "$DIR/n$n/launcher.pid"
    done
    log "stopped ${#stopped[@]} node(s) in $DIR"
}

[[ $# -eq 2 ]] || die "usage: $0 start|stop DIR"
DIR=$(realpath -m "$2")
case $1 in
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) die "usage: $0 start|stop DIR" ;;
esac
