#!/usr/bin/env bash
# A production-shaped cluster of the backing servers on this machine, without Docker, beside
# (never instead of) the single-node servers of scripts/backing.sh:
#   * PostgreSQL 15 (Debian) under Patroni (PyPI), its state in etcd (Debian etcd-server):
#     a primary and a synchronous streaming replica, automatic failover;
#   * a MongoDB replica set of three members (the mongod that backing.sh installs);
#   * a RabbitMQ cluster of three nodes (Debian's rabbitmq-server), for quorum queues;
#   * HAProxy (Debian) in front of PostgreSQL (the current primary, found through Patroni's
#     REST health check), of the RabbitMQ nodes, and of two instances of every service of
#     services.toml on the historical ports (the instances are started by `services up` or by
#     the chaos test, tests/tests/chaos.rs);
#   * S3 stays the single moto server of backing.sh: clustering S3 is the provider's job;
#   * mail goes to backing.sh's SMTP catcher (scripts/smtp_catcher.py), which `up` starts
#     if it is not running: the notifications instances mail to it (an MTA is the
#     provider's job too).
# Topology, figures and limits: docs/SCALING.md.
#
# Usage: scripts/cluster.sh <command>
#   install            apt packages (etcd-server, haproxy) when missing and a venv with Patroni;
#                      needs scripts/backing.sh install (mongod, pymongo). Idempotent, fast once done.
#   up                 start whatever is not running, heal what is degraded (a stopped member is
#                      started and rejoins), wait until every component is ready; one line per
#                      component with the time it took. Idempotent; about a second when all is up.
#   down [--purge]     stop everything this script started (the data stays, unless --purge).
#   status             one line per component; exit status 1 if any is missing or degraded.
#   env                `export` lines for services that use the cluster:
#                      eval "$(scripts/cluster.sh env)".
#   services up|down   two instances of each service (target/debug binaries; `cargo build`
#                      first) on ports historical+10000 and +11000, behind HAProxy on the
#                      historical ports, against the cluster (database `hub`). Logs under the
#                      state dir.
# Faults (used by the chaos test; `up` restores each):
#   pg-failover        Patroni fails the primary over to the synchronous replica (patronictl);
#                      returns once the proxy reaches a writable new primary.
#   mongo-kill-primary SIGKILL the mongod that is primary; returns once another member is primary.
#   rabbit-stop [QUEUE] stop one RabbitMQ node (the leader of QUEUE if given, else node 1);
#                      returns once it is down. Prints the node's name.
#
# Run as root (apt; PostgreSQL runs as the postgres user). State under CLUSTER_STATE_DIR
# (default <repo>/.backing/cluster: data, logs, pid files, generated configs and passwords;
# /var/tmp/hub-cluster-<hash of the checkout path> when the postgres user cannot reach the
# checkout, e.g. one made with `mktemp -d`). `env` prints the one in use.
# Ports (all on 127.0.0.1, apart from the machine's 5432, 5672, 27017, 9000):
#   SMTP 2525 (backing.sh's catcher, mail under .backing/mail); etcd 17379 (peer 17380); PostgreSQL nodes 17441-17442, Patroni REST 17451-17452;
#   MongoDB 17017-17019 (replica set hubrs); RabbitMQ nodes 17671-17673 (distribution
#   17681-17683, their own epmd on 17369); HAProxy: PostgreSQL primary 17432, replicas 17433,
#   AMQP 17670, statistics http://127.0.0.1:17404/, services on their historical ports.
#
# Every wait polls with a deadline; nothing relies on a fixed sleep.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BACKING=${BACKING_STATE_DIR:-$ROOT/.backing}

# Patroni runs PostgreSQL as the postgres user, who must be able to walk down to the
# state directory. A checkout inside a private directory (`mktemp -d`, /root) does not
# allow that, so the state then lives under /var/tmp, one directory per checkout. The
# choice depends on permissions alone, so every command of this script makes the same one.
others_can_reach() {
  local d=$1
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  while :; do
    [ -n "$(find "$d" -maxdepth 0 -perm -o+x)" ] || return 1
    [ "$d" = / ] && return 0
    d=$(dirname "$d")
  done
}
if [ -n "${CLUSTER_STATE_DIR:-}" ]; then
  S=$CLUSTER_STATE_DIR
elif others_can_reach "$BACKING"; then
  S=$BACKING/cluster
else
  S=/var/tmp/hub-cluster-$(printf %s "$ROOT" | sha256sum | cut -c1-12)
fi
BVPY=$BACKING/venv/bin/python        # backing.sh's venv: mongod wheel, pymongo
PVENV=$S/patroni-venv                 # Patroni runs as postgres: made from Debian's python3
PATRONI_REQUIREMENTS=('patroni[etcd3,psycopg3]==4.1.5')

HOST=127.0.0.1
ETCD_PORT=17379
ETCD_PEER_PORT=17380
PG_NAMES=(pg1 pg2)
PG_PORTS=(17441 17442)
PATRONI_PORTS=(17451 17452)
PG_PROXY_PORT=17432
PG_REPLICA_PROXY_PORT=17433
MONGO_PORTS=(17017 17018 17019)
MONGO_RS=hubrs
MQ_PORTS=(17671 17672 17673)
MQ_DIST_PORTS=(17681 17682 17683)
MQ_EPMD_PORT=17369
MQ_PROXY_PORT=17670
STATS_PORT=17404
S3_PORT=9000
SMTP_PORT=2525   # backing.sh's SMTP catcher
# Service instances: historical port + each offset.
INSTANCE_OFFSETS=(10000 11000)

# The application's role, as backing.sh's: test credentials, printed by `env`.
APP_USER=app_test
APP_PASSWORD=app_test
APP_DB=app_test

# ---------------------------------------------------------------------------------------------
# helpers

SCRIPT=cluster.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# The pid in FILE if that process is alive and its command line contains WORD.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qa -- "$2" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# A lock around commands that change state (daemons start with `9>&-`: see hold_lock).
lock() { hold_lock "$S" 300; }


pg_bin() {
  local d
  d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin 2>/dev/null | sort -V | tail -n1)
  [ -x "$d/postgres" ] || die "no PostgreSQL binaries under /usr/lib/postgresql; run: scripts/backing.sh install"
  echo "$d"
}

need_installed() {
  if ! { [ -x "$PVENV/bin/patroni" ] && command -v etcd >/dev/null && command -v haproxy >/dev/null \
         && [ -x "$BVPY" ]; }; then
    die "not installed; run: scripts/cluster.sh install"
  fi
}

# Passwords of the PostgreSQL superuser, replication and rewind roles: made once, kept in
# the state dir (mode 600), never printed.
secrets() {
  local f=$S/secrets.env
  if [ ! -s "$f" ]; then
    mkdir -p "$S"
    (umask 077
     for k in PG_SUPERUSER_PASSWORD PG_REPLICATION_PASSWORD PG_REWIND_PASSWORD; do
       printf '%s=%s\n' "$k" "$(head -c 24 /dev/urandom | base64 | tr -d '\n=+/')"
     done >"$f")
  fi
  # shellcheck source=/dev/null
  . "$f"
}

# ---------------------------------------------------------------------------------------------
# install

install() {
  need_root "install"
  local t0 pkgs=()
  t0=$(now_us)
  bash "$ROOT/scripts/backing.sh" install >/dev/null
  command -v etcd >/dev/null || pkgs+=(etcd-server)
  command -v haproxy >/dev/null || pkgs+=(haproxy)
  # Patroni's venv is made from Debian's interpreter: the postgres user must be able to run it
  # (a pyenv interpreter under /root is not readable by other users).
  /usr/bin/python3 -c 'import venv, ensurepip' 2>/dev/null || pkgs+=(python3-venv)
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "apt: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" >/dev/null
    # Both packages enable a system-wide daemon wherever an init system may start it; this
    # cluster starts its own, so those stay stopped.
    local svc
    for svc in etcd haproxy; do
      if [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
      elif [ -x "/etc/init.d/$svc" ]; then
        service "$svc" stop >/dev/null 2>&1 || true
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    done
  fi
  local want
  want=$(printf '%s\n' "${PATRONI_REQUIREMENTS[@]}")
  if [ "$(cat "$PVENV/.requirements" 2>/dev/null)" != "$want" ] || ! "$PVENV/bin/python" -c 1 2>/dev/null; then
    mkdir -p "$S"
    /usr/bin/python3 -m venv --clear "$PVENV"
    "$PVENV/bin/pip" install -q --disable-pip-version-check "${PATRONI_REQUIREMENTS[@]}"
    printf '%s\n' "$want" >"$PVENV/.requirements"
  fi
  log "install: done in $(since "$t0")s (etcd $(etcd --version | awk 'NR==1 {print $3}'), haproxy $(haproxy -v | awk 'NR==1 {print $3}'), $("$PVENV/bin/patroni" --version))"
}

# ---------------------------------------------------------------------------------------------
# etcd: one member (Patroni's lock and configuration; see docs/SCALING.md for why one)

etcd_healthy() { [[ "$(curl -fsS -m 1 "http://$HOST:$ETCD_PORT/health" 2>/dev/null)" == *'"health":"true"'* ]]; }

start_etcd() {
  etcd_healthy && return 0
  mkdir -p "$S/etcd"
  (setsid etcd --name hub-etcd --data-dir "$S/etcd/data" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "hub-etcd=http://$HOST:$ETCD_PEER_PORT" --initial-cluster-state new \
    </dev/null >>"$S/etcd/etcd.log" 2>&1 9>&- &
   echo $! >"$S/etcd/etcd.pid")
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL under Patroni

patroni_conf() { echo "$S/pg/$1/patroni.yml"; }

write_patroni_conf() {
  local i=$1 name=${PG_NAMES[$1]} dir=$S/pg/${PG_NAMES[$1]} bin
  bin=$(pg_bin)
  secrets
  mkdir -p "$dir"
  # The DCS part (bootstrap.dcs) is written to etcd by the member that initialises the cluster.
  # synchronous_mode: a commit returns only once the replica has it, so Patroni promotes only a
  # replica that holds every acknowledged transaction. ttl/loop_wait/retry_timeout are
  # Patroni's smallest allowed values: how fast a dead primary's lock expires.
  (umask 077; cat >"$dir/patroni.yml" <<EOF
scope: hub
namespace: /hub-cluster/
name: $name
log:
  level: INFO
restapi:
  listen: $HOST:${PATRONI_PORTS[$i]}
  connect_address: $HOST:${PATRONI_PORTS[$i]}
etcd3:
  hosts: $HOST:$ETCD_PORT
bootstrap:
  dcs:
    ttl: 20
    loop_wait: 2
    retry_timeout: 5
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        max_connections: 400
        shared_buffers: 64MB
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        wal_keep_size: 256MB
  initdb:
    - encoding: UTF8
    - locale: C.UTF-8
    - data-checksums
postgresql:
  listen: $HOST:${PG_PORTS[$i]}
  connect_address: $HOST:${PG_PORTS[$i]}
  data_dir: $dir/data
  bin_dir: $bin
  pgpass: $dir/pgpass
  authentication:
    superuser:
      username: postgres
      password: $PG_SUPERUSER_PASSWORD
    replication:
      username: replicator
      password: $PG_REPLICATION_PASSWORD
    rewind:
      username: rewinder
      password: $PG_REWIND_PASSWORD
  parameters:
    unix_socket_directories: $dir
    logging_collector: 'on'
    log_directory: $dir/log
    log_min_messages: warning
  pg_hba:
    - local all all trust
    - host replication replicator $HOST/32 scram-sha-256
    - host all all $HOST/32 scram-sha-256
EOF
  )
  chown -R postgres:postgres "$dir"
}

patroni_running() { live_pid "$S/pg/${PG_NAMES[$1]}/patroni.pid" patroni >/dev/null; }

start_patroni() {
  local i=$1 dir=$S/pg/${PG_NAMES[$1]}
  patroni_running "$i" && return 0
  write_patroni_conf "$i"
  # setpriv execs (no fork), so $! is Patroni's own pid; Patroni starts postgres as its child.
  (cd "$dir" || exit 1
   HOME=$dir setsid setpriv --reuid=postgres --regid=postgres --init-groups -- \
     "$PVENV/bin/patroni" "$dir/patroni.yml" </dev/null >>"$dir/patroni.log" 2>&1 9>&- &
   echo $! >"$dir/patroni.pid")
}

# The cluster as Patroni sees it: one line per member, "name role state lag", e.g.
# "pg1 leader running 0" / "pg2 sync_standby streaming 0". Fails if no Patroni answers.
patroni_members() {
  local port json=""
  for port in "${PATRONI_PORTS[@]}"; do
    json=$(curl -fsS -m 1 "http://$HOST:$port/cluster" 2>/dev/null) && break
  done
  [ -n "$json" ] || return 1
  "$PVENV/bin/python" "$ROOT/scripts/py/patroni_members.py" "$json"
}

# Ready: one leader running, every replica streaming, and one of them the synchronous
# standby (until Patroni names one, commits are not yet on two members).
patroni_ready() {
  local members
  members=$(patroni_members) || return 1
  [ "$(awk '$2 == "leader" && $3 == "running"' <<<"$members" | wc -l)" -eq 1 ] || return 1
  [ "$(awk '$2 != "leader" && $3 == "streaming"' <<<"$members" | wc -l)" -eq $(( ${#PG_NAMES[@]} - 1 )) ] || return 1
  awk '$2 == "sync_standby" { found = 1 } END { exit !found }' <<<"$members"
}

pg_leader() { patroni_members 2>/dev/null | awk '$2 == "leader" { print $1 }'; }

# psql through the proxy as the application role / as the superuser (on the leader's socket).
app_psql() { PGPASSWORD=$APP_PASSWORD PGCONNECT_TIMEOUT=2 psql -X -q -h "$HOST" -p "$PG_PROXY_PORT" -U "$APP_USER" "$@"; }
super_psql() {
  local leader i
  leader=$(pg_leader)
  for i in "${!PG_NAMES[@]}"; do
    if [ "${PG_NAMES[$i]}" = "$leader" ]; then
      (cd / && setpriv --reuid=postgres --regid=postgres --init-groups -- \
         psql -X -q -v ON_ERROR_STOP=1 -h "$S/pg/$leader" -p "${PG_PORTS[$i]}" -U postgres -d postgres "$@")
      return
    fi
  done
  return 1
}

# The proxy reaches a primary that takes writes.
pg_proxy_writable() {
  [ "$(app_psql -d "$APP_DB" -tAc 'SELECT NOT pg_is_in_recovery()' 2>/dev/null)" = t ]
}

pg_ensure_app_role() {
  pg_proxy_writable && return 0
  super_psql <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$APP_USER') THEN CREATE ROLE $APP_USER; END IF;
END\$\$;
ALTER ROLE $APP_USER LOGIN CREATEDB PASSWORD '$APP_PASSWORD';
SQL
  if [ "$(super_psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$APP_DB'" </dev/null)" != 1 ]; then
    super_psql -c "CREATE DATABASE $APP_DB OWNER $APP_USER" </dev/null
  fi
}

pg_failover() {
  lock; need_installed
  local t0 leader candidate members
  t0=$(now_us)
  wait_for 60 "a healthy PostgreSQL cluster before the failover" patroni_ready
  members=$(patroni_members)
  leader=$(awk '$2 == "leader" { print $1 }' <<<"$members")
  candidate=$(awk '$2 == "sync_standby" { print $1; exit }' <<<"$members")
  [ -n "$candidate" ] || candidate=$(awk '$2 != "leader" { print $1; exit }' <<<"$members")
  "$PVENV/bin/patronictl" -c "$(patroni_conf "$leader")" failover --candidate "$candidate" --force \
    >"$S/pg/failover.log" 2>&1 9>&- || { cat "$S/pg/failover.log" >&2; die "patronictl failover failed"; }
  new_leader_writable() { [ "$(pg_leader)" = "$candidate" ] && pg_proxy_writable; }
  wait_for 60 "the proxy to reach the new primary $candidate" new_leader_writable
  log "postgres  failover $leader -> $candidate: writable through the proxy after $(since "$t0")s"
}

# ---------------------------------------------------------------------------------------------
# MongoDB replica set

mongod_bin() { mongod_path "$S/mongod.path" "$BVPY"; }

# mongo_rs COMMAND [ARG]: the replica-set operations (scripts/py/cluster_mongo.py, with
# pymongo from backing.sh's venv).
#   init SECS         initiate if new; wait until one primary and every member PRIMARY/SECONDARY
#   primary           the port of the primary (exit 1 if none)
#   wait-primary SECS PORT  wait until a member other than PORT is primary; print its port
#   members           one line per member: "port state" (state "down" when it does not answer)
#   shutdown          shut every member down at once, without a primary's wait for a secondary
mongo_rs() {
  "$BVPY" "$ROOT/scripts/py/cluster_mongo.py" "$HOST" "$(IFS=,; echo "${MONGO_PORTS[*]}")" "$MONGO_RS" "$@"
}

mongo_pidfile() { echo "$S/mongo/m$1.pid"; }
mongo_running() { live_pid "$(mongo_pidfile "$1")" mongod >/dev/null; }

# Starts member i (0-based) unless it runs. --fork returns once it accepts connections.
start_mongo() {
  local i=$1 port=${MONGO_PORTS[$1]} dir=$S/mongo/m$1
  mongo_running "$i" && return 0
  port_open "$port" && die "$HOST:$port is taken by something this script did not start"
  mkdir -p "$dir"
  # Small cache, oplog and journal files, as backing.sh's single member.
  "$(mongod_bin)" --dbpath "$dir" --bind_ip "$HOST" --port "$port" --replSet "$MONGO_RS" \
    --fork --logpath "$S/mongo/m$i.log" --logappend --pidfilepath "$(mongo_pidfile "$i")" \
    --wiredTigerCacheSizeGB 0.25 --oplogSize 64 \
    --wiredTigerEngineConfigString 'log=(prealloc=false,file_max=20MB)' </dev/null >/dev/null 9>&- \
    || { tail -n 5 "$S/mongo/m$i.log" >&2; die "mongod m$i did not start; log: $S/mongo/m$i.log"; }
}

mongo_kill_primary() {
  lock; need_installed
  local t0 port i pid new
  port=$(mongo_rs primary) || die "the replica set has no primary"
  for i in "${!MONGO_PORTS[@]}"; do [ "${MONGO_PORTS[$i]}" = "$port" ] && break; done
  pid=$(live_pid "$(mongo_pidfile "$i")" mongod) || die "the primary on $port was not started by this script"
  t0=$(now_us)
  kill -KILL "$pid"
  new=$(mongo_rs wait-primary 60 "$port") || die "no new primary within 60 s"
  log "mongodb   killed the primary m$i ($HOST:$port); $HOST:$new primary after $(since "$t0")s"
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ cluster: three nodes with their own names, ports, cookie and epmd, so the
# machine's broker (rabbit@localhost on 5672, cookie in /var/lib/rabbitmq) is never touched.

mq_node() { echo "hub-mq$(( $1 + 1 ))@localhost"; }
mq_dir() { echo "$S/rabbit/mq$(( $1 + 1 ))"; }

# The environment every RabbitMQ command here runs with: our own Erlang cookie (HOME), epmd
# port and (empty) rabbitmq-env.conf instead of /etc/rabbitmq's, which names the machine's node.
mq_env() {
  export HOME=$S/rabbit/home ERL_EPMD_PORT=$MQ_EPMD_PORT ERL_EPMD_ADDRESS=$HOST \
         RABBITMQ_CONF_ENV_FILE=$S/rabbit/rabbitmq-env.conf
}

mqctl() { (mq_env; /usr/lib/rabbitmq/bin/rabbitmqctl "$@" 9>&-); }

write_rabbit_conf() {
  local i=$1 dir n
  dir=$(mq_dir "$i")
  mkdir -p "$dir" "$S/rabbit/home"
  if [ ! -s "$S/rabbit/home/.erlang.cookie" ]; then
    (umask 077; head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' >"$S/rabbit/home/.erlang.cookie")
    chmod 400 "$S/rabbit/home/.erlang.cookie"
  fi
  : >"$S/rabbit/rabbitmq-env.conf"
  echo '[].' >"$S/rabbit/enabled_plugins"
  {
    echo "listeners.tcp.default = $HOST:${MQ_PORTS[$i]}"
    # Guest works from loopback only; the proxy connects from 127.0.0.1.
    echo "cluster_partition_handling = pause_minority"
    echo "cluster_formation.peer_discovery_backend = classic_config"
    for n in "${!MQ_PORTS[@]}"; do echo "cluster_formation.classic_config.nodes.$((n + 1)) = $(mq_node "$n")"; done
    echo "disk_free_limit.absolute = 100MB"
    echo "log.file.level = info"
    echo "log.console = false"
  } >"$dir/rabbitmq.conf"
}

mq_pidfile() { echo "$(mq_dir "$1")/node.pid"; }
mq_running() { live_pid "$(mq_pidfile "$1")" beam >/dev/null; }

start_rabbit() {
  local i=$1 dir
  dir=$(mq_dir "$i")
  mq_running "$i" && return 0
  port_open "${MQ_PORTS[$i]}" && die "$HOST:${MQ_PORTS[$i]} is taken by something this script did not start"
  write_rabbit_conf "$i"
  local pidfile
  pidfile=$(mq_pidfile "$i")
  (mq_env
   export RABBITMQ_NODENAME RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=${MQ_PORTS[$i]} \
          RABBITMQ_DIST_PORT=${MQ_DIST_PORTS[$i]} RABBITMQ_MNESIA_BASE=$dir/mnesia \
          RABBITMQ_LOG_BASE=$dir/log RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf \
          RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config \
          RABBITMQ_ENABLED_PLUGINS_FILE=$S/rabbit/enabled_plugins RABBITMQ_PID_FILE=$pidfile \
          RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1} +S 1:1 +sbwt none +sbwtdcpu none +sbwtdio none'
   RABBITMQ_NODENAME=$(mq_node "$i")
   /usr/lib/rabbitmq/bin/rabbitmq-server -detached </dev/null >"$dir/start.log" 2>&1 9>&-) \
    || { cat "$dir/start.log" >&2; die "rabbitmq-server $(mq_node "$i") did not start"; }
}

mq_ready() {
  local i=$1 rem
  rem=${2:-120}
  # await_startup fails at once until the node has registered with epmd, then blocks.
  wait_for "$rem" "$(mq_node "$i") to register" mqctl -q -n "$(mq_node "$i")" await_startup --timeout "$rem" >/dev/null 2>&1
  wait_for "$rem" "AMQP on $HOST:${MQ_PORTS[$i]}" port_open "${MQ_PORTS[$i]}"
}

# Running nodes of the cluster as node 1..3 see it (through any node that answers).
mq_running_nodes() {
  local i out
  for i in "${!MQ_PORTS[@]}"; do
    port_open "${MQ_PORTS[$i]}" || continue
    out=$(mqctl -q -n "$(mq_node "$i")" eval 'io:format("~p~n", [length(rabbit_nodes:all_running())]).' 2>/dev/null) \
      && { head -n1 <<<"$out"; return 0; }
  done
  echo 0
}

# rabbit-stop [QUEUE]: the node leading QUEUE (a quorum queue's leader, a classic queue's
# home node), else node 1.
rabbit_stop() {
  lock; need_installed
  local queue=${1:-} info="" node i t0 target=0 what=""
  if [ -n "$queue" ]; then
    for i in "${!MQ_PORTS[@]}"; do
      port_open "${MQ_PORTS[$i]}" || continue
      # name, type, leader (quorum queues), pid (classic queues: on their home node)
      info=$(mqctl -q -n "$(mq_node "$i")" list_queues name type leader pid --no-table-headers 2>/dev/null \
             | awk -F'\t' -v q="$queue" '$1 == q { print $2, ($3 != "" ? $3 : $4) }') && break
    done
    node=$(grep -o 'hub-mq[0-9]@localhost' <<<"$info" | head -n1) || true
    [ -n "$node" ] || die "no queue named $queue on the cluster"
    for i in "${!MQ_PORTS[@]}"; do [ "$(mq_node "$i")" = "$node" ] && target=$i; done
    what=" (leader of the ${info%% *} queue $queue)"
  fi
  node=$(mq_node "$target")
  t0=$(now_us)
  mqctl -q -n "$node" stop "$(mq_pidfile "$target")" >/dev/null
  wait_for 60 "$node to stop" port_closed "${MQ_PORTS[$target]}"
  log "rabbitmq  stopped $node$what in $(since "$t0")s"
}

# ---------------------------------------------------------------------------------------------
# HAProxy

# pg_listen NAME PORT PATRONI_PATH [OPTION]: an HAProxy section over the PostgreSQL members,
# each in service while its Patroni answers 200 on PATRONI_PATH.
pg_listen() {
  local i
  echo "listen $1"
  echo "    bind $HOST:$2"
  [ -z "${4:-}" ] || echo "$4"
  cat <<EOF
    option httpchk
    http-check send meth GET uri $3
    http-check expect status 200
    default-server on-marked-down shutdown-sessions
EOF
  for i in "${!PG_NAMES[@]}"; do
    echo "    server ${PG_NAMES[$i]} $HOST:${PG_PORTS[$i]} check port ${PATRONI_PORTS[$i]}"
  done
}

write_haproxy_conf() {
  local out=$1 i name port health proto off n
  {
    cat <<EOF
# Generated by scripts/cluster.sh; edit the script, not this file.
global
    maxconn 4000
    stats socket $S/haproxy.sock mode 600 level admin

defaults
    mode tcp
    option redispatch
    retries 3
    timeout connect 1s
    timeout client 60s
    timeout server 60s
    timeout check 1s
    default-server inter 1s fastinter 250ms downinter 1s fall 2 rise 2

listen stats
    bind $HOST:$STATS_PORT
    mode http
    stats enable
    stats uri /
    stats refresh 2s

# PostgreSQL: only the member Patroni calls primary answers 200 on /primary. Sessions to a
# member that stops being primary are cut, so clients reconnect to the new one.
EOF
    pg_listen postgres "$PG_PROXY_PORT" /primary
    echo
    pg_listen postgres-replicas "$PG_REPLICA_PROXY_PORT" /replica "    balance roundrobin"
    cat <<EOF

# AMQP: any running node serves every queue of the cluster.
listen amqp
    bind $HOST:$MQ_PROXY_PORT
    balance leastconn
    timeout client 3h
    timeout server 3h
    default-server on-marked-down shutdown-sessions
EOF
    for i in "${!MQ_PORTS[@]}"; do
      echo "    server mq$((i + 1)) $HOST:${MQ_PORTS[$i]} check"
    done
    # One HTTP proxy per service of the registry, on its historical port, in front of its
    # instances. The check is /livez (the process serves): an instance that answers 503
    # because a backing server is away answers in its own protocol, which beats HAProxy's
    # own 503 page. A connection that fails is sent to the other instance (redispatch);
    # a request already sent is never replayed, so no write is done twice.
    # shellcheck source=scripts/lib/registry.sh
    . "$ROOT/scripts/lib/registry.sh"
    while read -r name port health proto; do
      printf '\nlisten %s\n' "$name"
      printf '    bind %s:%s\n' "$HOST" "$port"
      printf '    mode http\n    balance roundrobin\n    option forwardfor\n    option redispatch 1\n    retries 3\n    http-reuse never\n'
      printf '    timeout http-request 10s\n    timeout queue 5s\n'
      printf '    option httpchk\n    http-check send meth GET uri /livez\n    http-check expect status 200\n'
      n=0
      for off in "${INSTANCE_OFFSETS[@]}"; do
        n=$((n + 1))
        printf '    server %s-%s %s:%s check\n' "$name" "$n" "$HOST" $((port + off))
      done
      : "$health" "$proto"
    done < <(registry_services "$ROOT/services.toml")
  } >"$out"
}

haproxy_running() { live_pid "$S/haproxy.pid" haproxy >/dev/null; }

start_haproxy() {
  local new=$S/haproxy.cfg.new
  write_haproxy_conf "$new"
  haproxy -c -q -f "$new" || die "generated HAProxy configuration is invalid: $new"
  if haproxy_running && cmp -s "$new" "$S/haproxy.cfg"; then
    rm -f "$new"; return 0
  fi
  mv "$new" "$S/haproxy.cfg"
  if haproxy_running; then
    # Reload: the new process takes over the listeners, the old one finishes its sessions.
    haproxy -D -f "$S/haproxy.cfg" -p "$S/haproxy.pid" -sf "$(cat "$S/haproxy.pid")" </dev/null >>"$S/haproxy.log" 2>&1 9>&-
  else
    local port
    for port in "$PG_PROXY_PORT" "$MQ_PROXY_PORT" "$STATS_PORT"; do
      port_open "$port" && die "$HOST:$port is taken by something this script did not start"
    done
    haproxy -D -f "$S/haproxy.cfg" -p "$S/haproxy.pid" </dev/null >>"$S/haproxy.log" 2>&1 9>&- \
      || { tail -n 5 "$S/haproxy.log" >&2; die "haproxy did not start"; }
  fi
}

# "backend server status" lines from HAProxy's statistics (CSV).
haproxy_servers() {
  curl -fsS -m 1 "http://$HOST:$STATS_PORT/;csv" 2>/dev/null \
    | awk -F, '$1 !~ /^#/ && $2 != "FRONTEND" && $2 != "BACKEND" { print $1, $2, $18 }'
}

haproxy_backend_up() { haproxy_servers | awk -v b="$1" '$1 == b && $3 == "UP" { up = 1 } END { exit !up }'; }

# ---------------------------------------------------------------------------------------------
# commands

up() {
  need_root "up"
  need_installed
  lock
  local t0 i p starts=()
  t0=$(now_us)
  # Start everything that is not running, then wait for each in turn.
  start_etcd
  for i in "${!MONGO_PORTS[@]}"; do start_mongo "$i" & starts+=($!); done
  # The first RabbitMQ node of a new cluster forms it; the others join it when they first
  # boot (classic peer discovery), so on a cold start node 1 goes first.
  if [ ! -d "$(mq_dir 0)/mnesia" ]; then
    start_rabbit 0
    mq_ready 0 120
  fi
  for i in "${!MQ_PORTS[@]}"; do start_rabbit "$i"; done
  wait_for 60 "etcd on $HOST:$ETCD_PORT" etcd_healthy
  log "etcd      ready in $(since "$t0")s $HOST:$ETCD_PORT"
  for i in "${!PG_NAMES[@]}"; do start_patroni "$i"; done
  start_haproxy
  log "haproxy   ready in $(since "$t0")s (statistics http://$HOST:$STATS_PORT/)"
  for p in "${starts[@]}"; do wait "$p" || die "a mongod did not start; logs: $S/mongo/"; done
  p=$(mongo_rs init 120) || die "MongoDB replica set not healthy; logs: $S/mongo/"
  log "mongodb   ready in $(since "$t0")s (replica set $MONGO_RS, 3 members, primary $HOST:$p)"
  # A node whose AMQP port is open has booted; the cluster check below sees the rest.
  for i in "${!MQ_PORTS[@]}"; do port_open "${MQ_PORTS[$i]}" || mq_ready "$i" 120; done
  mq_three() { [ "$(mq_running_nodes)" = "${#MQ_PORTS[@]}" ]; }
  wait_for 60 "three running RabbitMQ nodes" mq_three
  wait_for 10 "HAProxy to see a RabbitMQ node" haproxy_backend_up amqp
  log "rabbitmq  ready in $(since "$t0")s (3 nodes $(mq_node 0) ..., proxy $HOST:$MQ_PROXY_PORT)"
  wait_for 180 "the PostgreSQL cluster (a leader and streaming replicas); logs: $S/pg/" patroni_ready
  wait_for 30 "HAProxy to see the PostgreSQL primary" haproxy_backend_up postgres
  pg_ensure_app_role
  wait_for 30 "a writable primary through $HOST:$PG_PROXY_PORT" pg_proxy_writable
  log "postgres  ready in $(since "$t0")s (Patroni: $(patroni_members | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'); proxy $HOST:$PG_PROXY_PORT)"
  if port_open "$S3_PORT"; then
    log "s3 (moto) ready in $(since "$t0")s (backing.sh's single server) $HOST:$S3_PORT"
  else
    bash "$ROOT/scripts/backing.sh" s3-start 9>&-
  fi
  if port_open "$SMTP_PORT"; then
    log "smtp      ready in $(since "$t0")s (backing.sh's SMTP catcher) $HOST:$SMTP_PORT, mail in $BACKING/mail"
  else
    bash "$ROOT/scripts/backing.sh" smtp-start 9>&-
  fi
  log "up: all ready in $(since "$t0")s"
}

# stop_pids WHAT FILE WORD [FILE WORD ...]: SIGTERM every live process named by a pid file
# (see live_pid), then wait up to 60 s for all of them, then SIGKILL what is left.
stop_pids() {
  local what=$1 pids=() pid
  shift
  while [ $# -ge 2 ]; do
    if pid=$(live_pid "$1" "$2"); then kill "$pid" 2>/dev/null || true; pids+=("$pid"); fi
    shift 2
  done
  all_gone() { for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && return 1; done; return 0; }
  if ! wait_for 60 "$what to exit" all_gone; then
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
}

down() {
  need_root "down"
  local purge=false i t0
  case "${1:-}" in
    "") ;;
    --purge) purge=true ;;
    *) die "usage: cluster.sh down [--purge]" ;;
  esac
  lock
  t0=$(now_us)
  services_down
  stop_pids haproxy "$S/haproxy.pid" haproxy
  log "haproxy   stopped after $(since "$t0")s"
  local files=()
  for i in "${!MQ_PORTS[@]}"; do files+=("$(mq_pidfile "$i")" beam); done
  stop_pids "the RabbitMQ nodes" "${files[@]}"
  (mq_env; epmd -kill >/dev/null 2>&1 || true)
  log "rabbitmq  stopped after $(since "$t0")s"
  files=()
  for i in "${!MONGO_PORTS[@]}"; do files+=("$(mongo_pidfile "$i")" mongod); done
  [ -x "$BVPY" ] && mongo_rs shutdown
  stop_pids "the mongod members" "${files[@]}"
  log "mongodb   stopped after $(since "$t0")s"
  # Patroni stops its postgres on SIGTERM.
  files=()
  for i in "${!PG_NAMES[@]}"; do files+=("$S/pg/${PG_NAMES[$i]}/patroni.pid" patroni); done
  stop_pids "Patroni" "${files[@]}"
  log "postgres  stopped after $(since "$t0")s"
  stop_pids etcd "$S/etcd/etcd.pid" etcd
  log "etcd      stopped after $(since "$t0")s"
  if $purge; then
    rm -rf "$S/etcd" "$S/pg" "$S/mongo" "$S/rabbit" "$S/services" "$S/haproxy.cfg" "$S/secrets.env"
    log "down: stopped and purged in $(since "$t0")s (the venv stays)"
  else
    log "down: stopped in $(since "$t0")s (data kept under $S; --purge removes it)"
  fi
}

status() {
  local bad=0 members line
  if etcd_healthy; then log "etcd      up    $HOST:$ETCD_PORT"; else log "etcd      down  $HOST:$ETCD_PORT"; bad=1; fi
  if members=$(patroni_members) && patroni_ready; then
    log "postgres  up    $(tr '\n' ';' <<<"$members" | sed 's/;$//; s/;/; /g') (proxy $HOST:$PG_PROXY_PORT)"
  else
    log "postgres  degraded: $(tr '\n' ';' <<<"${members:-no Patroni answers}" | sed 's/;$//; s/;/; /g')"; bad=1
  fi
  if [ -x "$BVPY" ] && members=$(mongo_rs members) \
     && [ "$(grep -c -E 'PRIMARY|SECONDARY' <<<"$members")" -eq ${#MONGO_PORTS[@]} ]; then
    log "mongodb   up    $(tr '\n' ',' <<<"$members" | sed 's/,$//; s/,/, /g')"
  else
    log "mongodb   degraded: $(tr '\n' ',' <<<"${members:-}" | sed 's/,$//')"; bad=1
  fi
  line=$(mq_running_nodes)
  if [ "$line" = "${#MQ_PORTS[@]}" ]; then
    log "rabbitmq  up    $line of ${#MQ_PORTS[@]} nodes running (proxy $HOST:$MQ_PROXY_PORT)"
  else
    log "rabbitmq  degraded: $line of ${#MQ_PORTS[@]} nodes running"; bad=1
  fi
  if haproxy_running; then
    log "haproxy   up    $(haproxy_servers | awk '
      $1 == "postgres" && $3 == "UP" { primary = $2 }
      $1 == "amqp" { mq++; if ($3 == "UP") mqup++ }
      $1 !~ /^(postgres|postgres-replicas|amqp)$/ { svc++; if ($3 == "UP") svcup++ }
      END { printf "postgres -> %s, amqp %d of %d nodes, services %d of %d instances", (primary ? primary : "none"), mqup, mq, svcup, svc }') (http://$HOST:$STATS_PORT/)"
  else
    log "haproxy   down"; bad=1
  fi
  if port_open "$S3_PORT"; then log "s3 (moto) up    $HOST:$S3_PORT (backing.sh)"; else log "s3 (moto) down  $HOST:$S3_PORT"; bad=1; fi
  if port_open "$SMTP_PORT"; then log "smtp      up    $HOST:$SMTP_PORT (backing.sh)"; else log "smtp      down  $HOST:$SMTP_PORT"; bad=1; fi
  return $bad
}

env_cmd() {
  local hosts
  hosts=$(printf "$HOST:%s," "${MONGO_PORTS[@]}")
  cat <<EOF
export DATABASE_URL='postgres://$APP_USER:$APP_PASSWORD@$HOST:$PG_PROXY_PORT/$APP_DB'
export AMQP_URL='amqp://guest:guest@$HOST:$MQ_PROXY_PORT/%2f'
export RABBITMQ_QUEUE_TYPE='quorum'
export MONGODB_URI='mongodb://${hosts%,}/?replicaSet=$MONGO_RS&w=majority&retryWrites=true'
export MONGODB_WRITE_CONCERN='majority'
export S3_ENDPOINT='http://$HOST:$S3_PORT'
export AWS_ACCESS_KEY_ID='test'
export AWS_SECRET_ACCESS_KEY='test'
export AWS_REGION='us-east-1'
export SMTP_HOST='$HOST'
export SMTP_PORT='$SMTP_PORT'
export SMTP_TLS='none'
export HUB_MAIL_DIR='$BACKING/mail'
export CLUSTER_HAPROXY_STATS='http://$HOST:$STATS_PORT/'
export CLUSTER_STATE_DIR='$S'
EOF
}

# ---------------------------------------------------------------------------------------------
# services: two instances of each, behind the proxy

services_up() {
  need_root "services up"
  local name port health proto off n bin secret
  eval "$(env_cmd)"
  export DATABASE_URL=${DATABASE_URL%/*}/hub
  if [ "$(app_psql -d "$APP_DB" -tAc "SELECT 1 FROM pg_database WHERE datname = 'hub'")" != 1 ]; then
    app_psql -d "$APP_DB" -c "CREATE DATABASE hub" >/dev/null
  fi
  mkdir -p "$S/services"
  if [ ! -s "$S/services/secret_key" ]; then
    (umask 077; head -c 48 /dev/urandom | base64 | tr -d '\n=+/' >"$S/services/secret_key")
  fi
  secret=$(cat "$S/services/secret_key")
  # shellcheck source=scripts/lib/registry.sh
  . "$ROOT/scripts/lib/registry.sh"
  while read -r name port health proto; do
    bin=${CARGO_TARGET_DIR:-$ROOT/target}/debug/$name
    [ -x "$bin" ] || die "$bin is not built: cargo build -p $name"
    n=0
    for off in "${INSTANCE_OFFSETS[@]}"; do
      n=$((n + 1))
      live_pid "$S/services/$name-$n.pid" "$name" >/dev/null && continue
      env SECRET_KEY="$secret" HOST="$HOST" PORT=$((port + off)) TRUSTED_PROXIES="$HOST" \
        setsid "$bin" </dev/null >>"$S/services/$name-$n.log" 2>&1 9>&- &
      echo $! >"$S/services/$name-$n.pid"
    done
    healthy() { curl -fsS -m 1 -o /dev/null "http://$HOST:$port$health" 2>/dev/null; }
    wait_for 60 "$name behind $HOST:$port" healthy || { tail -n 5 "$S/services/$name-1.log" >&2; exit 1; }
    log "$(printf '%-11s' "$name") 2 instances behind http://$HOST:$port (logs $S/services/$name-*.log)"
    : "$proto"
  done < <(registry_services "$ROOT/services.toml")
}

services_down() {
  local f
  for f in "$S"/services/*.pid; do
    [ -f "$f" ] || continue
    stop_pids "$(basename "$f" .pid)" "$f" target
    rm -f "$f"
  done
}

services_cmd() {
  case "${1:-}" in
    up)   lock; services_up ;;
    down) lock; services_down; log "services: stopped" ;;
    *)    die "usage: cluster.sh services up|down" ;;
  esac
}

COMMANDS=(install up down status env=env_cmd services=services_cmd pg-failover
          mongo-kill-primary rabbit-stop)
dispatch "$@"
