#!/usr/bin/env bash
# Backup and restore of every store the services use, and the drill's own stores to
# practise them on (docs/OPERATIONS.md, "Backup and restore"; the drill is tests/tests/restore.rs).
#
# Usage: scripts/backup.sh <command> DIR
#   drill-up DIR    stores the drill may lose, described in DIR/drill.env: a PostgreSQL 15
#                   cluster of its own (Debian's binaries, initdb into DIR/pg as the postgres
#                   user, its own port, wal_level=replica, archive_mode=on: every WAL segment
#                   is copied to DIR/backups/wal within archive_timeout, 1 MiB segments); a
#                   mongod of its own (the one scripts/backing.sh installs, a one-member
#                   replica set, its own port); a RabbitMQ vhost of its own on the machine's
#                   broker; a bucket of its own on the machine's moto. Never the shared ones.
#   backup DIR      one backup into DIR/backups, store by store, in this order (each prints its
#                   seconds): PostgreSQL's base backup (pg_basebackup); MongoDB (fsyncLock, a
#                   copy of the data directory, fsyncUnlock); S3 (every object, through boto3);
#                   RabbitMQ's definitions of the vhost (rabbitmqctl export_definitions); then
#                   a PostgreSQL restore point (pg_create_restore_point), archived at once.
#                   DIR/backups/manifest records each store's point (UTC) and the earliest.
#   lose DIR        the disaster: PostgreSQL stopped and its data directory wiped, mongod
#                   killed and its data wiped, the vhost deleted, the bucket deleted. The
#                   backups and the WAL archive (DIR/backups) stay: they live elsewhere.
#   restore DIR     in this order: the deletion log (every row of deleted_account, read from a
#                   scratch recovery to the end of the WAL archive, into
#                   DIR/restore/deletions: deletions after the backup survive the loss of
#                   every store); PostgreSQL to the backup's restore point (point-in-time
#                   recovery: base backup + archived WAL, recovery_target_name); the outbox
#                   rows published since REPUBLISH_MARGIN_SECS before the earliest store's
#                   point made pending again (the broker's queues were lost); MongoDB's copy;
#                   the vhost's definitions; the bucket's objects. Prints each step's seconds
#                   and the total. Then, before the services serve: `auth users
#                   replay-deletions DIR/restore/deletions` (docs/OPERATIONS.md).
#   drill-down DIR  stop the drill's PostgreSQL and mongod, delete its vhost and bucket, and
#                   remove DIR.
#   env DIR         `export` lines for the services against the drill's stores: DATABASE_URL,
#                   MONGODB_URI, AMQP_URL, AWS_BUCKET_NAME.
#
# Run as root (PostgreSQL runs as the postgres user; rabbitmqctl needs the broker's cookie).
# Needs scripts/backing.sh's servers up (RabbitMQ, moto) and its venv; S3 settings from
# `scripts/backing.sh env`. REPUBLISH_MARGIN_SECS (default 300): how far before the earliest
# store's point published events are sent again (covers the consumers' lag; the consumers
# deduplicate by message id). DIR must be reachable by the postgres user (e.g. under /var/tmp).
#
# PostgreSQL: pg_basebackup + archive_command/restore_command, both shipped with PostgreSQL
# itself (no pgBackRest: one server, one archive directory, nothing it would add that the
# drill needs; production on Patroni uses the cluster's own pgBackRest/WAL-G, same steps).
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
SCRIPT=backup.sh
HOST=127.0.0.1
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$ROOT/scripts/lib/common.sh"

PGBIN=/usr/lib/postgresql/15/bin
STORES_PY=$ROOT/scripts/py/backup_stores.py
MONGO_PY=$ROOT/scripts/py/backing_mongo.py

setup() {
  need_root "$SCRIPT"
  [ -n "${1:-}" ] || die "which drill directory? (scripts/backup.sh <command> DIR)"
  DIR=$(realpath -m "$1")
  BK=$DIR/backups
  # The backing servers' settings (S3's, the venv), unless the caller already has them.
  [ -n "${HUB_PYTHON:-}" ] || eval "$(bash "$ROOT/scripts/backing.sh" env)"
  VPY=$HUB_PYTHON
}

# A free TCP port on HOST (bound then released).
free_port() { "$VPY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

as_pg() { runuser -u postgres -- "$@"; }
psql_drill() { as_pg "$PGBIN/psql" -h "$HOST" -p "$PG_PORT" -U postgres -qAtX -v ON_ERROR_STOP=1 "$@"; }
utc_now() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

load_drill() {
  [ -f "$DIR/drill.env" ] || die "no drill at $DIR (scripts/backup.sh drill-up $DIR)"
  # shellcheck source=/dev/null
  . "$DIR/drill.env"
}

pg_ready() { as_pg "$PGBIN/pg_isready" -q -h "$HOST" -p "$1"; }
pg_start() { # DATADIR PORT
  as_pg "$PGBIN/pg_ctl" -D "$1" -l "$1/../postgres.log" -o "-p $2" -w -t 120 start >/dev/null
}
pg_promoted() { [ "$(psql_drill -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ]; }

mongo_start() {
  "$(mongod_path "$DIR/mongod.path" "$VPY")" --dbpath "$DIR/mongo/data" --bind_ip "$HOST" \
    --port "$MONGO_PORT" --replSet rs0 --fork --logpath "$DIR/mongo/mongod.log" --logappend \
    --pidfilepath "$DIR/mongo/mongod.pid" --wiredTigerCacheSizeGB 0.25 --oplogSize 64 \
    --wiredTigerEngineConfigString 'log=(prealloc=false,file_max=20MB)' </dev/null >/dev/null \
    || die "mongod did not start; log: $DIR/mongo/mongod.log"
  "$VPY" "$MONGO_PY" rs-ready "$HOST" "$MONGO_PORT" 60
}

drill_up() {
  setup "$@"
  [ ! -e "$DIR/drill.env" ] || die "$DIR already holds a drill (scripts/backup.sh drill-down $DIR)"
  local t0 id
  t0=$(now_us)
  id=$(basename "$DIR" | tr -c 'a-zA-Z0-9\n' '-')
  mkdir -p "$DIR/pg" "$DIR/mongo/data" "$BK/wal"
  chmod 755 "$DIR"
  chown postgres: "$DIR/pg" "$BK" "$BK/wal"
  {
    echo "PG_PORT=$(free_port)"
    echo "MONGO_PORT=$(free_port)"
    echo "VHOST=drill-$id"
    echo "BUCKET=drill-$id"
  } >"$DIR/drill.env"
  load_drill
  as_pg "$PGBIN/initdb" -D "$DIR/pg/data" -U postgres -A trust --wal-segsize=1 >/dev/null
  cat >>"$DIR/pg/data/postgresql.conf" <<EOF
listen_addresses = '$HOST'
port = $PG_PORT
unix_socket_directories = '$DIR/pg'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $BK/wal/%f && cp %p $BK/wal/%f'
archive_timeout = ${DRILL_ARCHIVE_TIMEOUT_SECS:-2}
EOF
  pg_start "$DIR/pg/data" "$PG_PORT"
  psql_drill -c 'CREATE DATABASE hub'
  mongo_start
  rabbitmqctl -q add_vhost "$VHOST" 9>&-
  rabbitmqctl -q set_permissions -p "$VHOST" guest '.*' '.*' '.*' 9>&-
  "$VPY" "$STORES_PY" s3-create "$BUCKET"
  log "drill-up: done in $(since "$t0")s (PostgreSQL :$PG_PORT, mongod :$MONGO_PORT, vhost $VHOST, bucket $BUCKET)"
}

env_cmd() {
  setup "$@"
  load_drill
  printf 'export DATABASE_URL=%q\n' "postgres://postgres@$HOST:$PG_PORT/hub"
  printf 'export MONGODB_URI=%q\n' "mongodb://$HOST:$MONGO_PORT/?replicaSet=rs0"
  printf 'export AMQP_URL=%q\n' "amqp://guest:guest@$HOST:5672/$VHOST"
  printf 'export AWS_BUCKET_NAME=%q\n' "$BUCKET"
}

backup() {
  setup "$@"
  load_drill
  local t0 t mongo_point s3_point rabbit_point pg_point name lsn wal
  t0=$(now_us)
  rm -rf "$BK/base" "$BK/mongo" "$BK/s3" "$BK/rabbitmq.json" "$BK/manifest"
  t=$(now_us)
  as_pg "$PGBIN/pg_basebackup" -h "$HOST" -p "$PG_PORT" -U postgres -D "$BK/base" -X none -c fast
  log "backup: postgresql base backup in $(since "$t")s"
  t=$(now_us)
  mongo_point=$("$VPY" "$STORES_PY" mongo-copy "$HOST" "$MONGO_PORT" "$DIR/mongo/data" "$BK/mongo")
  log "backup: mongodb copy in $(since "$t")s (point $mongo_point)"
  t=$(now_us)
  s3_point=$("$VPY" "$STORES_PY" s3-dump "$BUCKET" "$BK/s3")
  log "backup: s3 objects in $(since "$t")s (point $s3_point)"
  t=$(now_us)
  rabbit_point=$(utc_now)
  rabbitmqctl -q export_definitions - 9>&- | "$VPY" "$STORES_PY" rabbit-filter "$VHOST" >"$BK/rabbitmq.json"
  log "backup: rabbitmq definitions in $(since "$t")s"
  t=$(now_us)
  name="backup-$(date -u +%Y%m%dT%H%M%S%N)"
  read -r pg_point lsn < <(psql_drill -F ' ' -c "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), pg_create_restore_point('$name')")
  wal=$(psql_drill -c "SELECT pg_walfile_name('$lsn')")
  psql_drill -c 'SELECT pg_switch_wal()' >/dev/null
  wait_for 60 "the WAL of the restore point to be archived" test -f "$BK/wal/$wal"
  log "backup: postgresql restore point $name in $(since "$t")s (point $pg_point)"
  # The earliest point: every store holds what was acknowledged before it.
  cat >"$BK/manifest" <<EOF
PG_RESTORE_POINT=$name
PG_POINT=$pg_point
MONGO_POINT=$mongo_point
S3_POINT=$s3_point
RABBITMQ_POINT=$rabbit_point
EARLIEST=$(printf '%s\n' "$pg_point" "$mongo_point" "$s3_point" | sort | head -n1)
EOF
  log "backup: done in $(since "$t0")s ($BK/manifest)"
}

lose() {
  setup "$@"
  load_drill
  if pg_ready "$PG_PORT"; then as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null || true; fi
  rm -rf "$DIR/pg/data"
  if [ -f "$DIR/mongo/mongod.pid" ]; then kill -9 "$(cat "$DIR/mongo/mongod.pid")" 2>/dev/null || true; fi
  wait_for 30 "mongod to exit" port_closed "$MONGO_PORT"
  rm -rf "$DIR/mongo/data" "$DIR/mongo/mongod.pid"
  rabbitmqctl -q delete_vhost "$VHOST" 9>&- || true
  "$VPY" "$STORES_PY" s3-drop "$BUCKET"
  log "lose: PostgreSQL, MongoDB, vhost $VHOST and bucket $BUCKET gone"
}

# Recovery of the base backup into DATADIR on PORT: to the restore point NAME, or, without
# one, to the end of the archive. The scratch copy does not archive (it would write a new
# timeline's WAL next to the real one's).
recover() { # DATADIR PORT [NAME]
  local data=$1 port=$2 name=${3:-}
  rm -rf "$data"
  as_pg cp -a "$BK/base" "$data"
  chmod 700 "$data"
  as_pg touch "$data/recovery.signal"
  {
    echo "port = $port"
    echo "restore_command = 'cp $BK/wal/%f %p'"
    echo "recovery_target_action = 'promote'"
    if [ -n "$name" ]; then echo "recovery_target_name = '$name'"; else echo "archive_mode = off"; fi
  } | as_pg tee -a "$data/postgresql.auto.conf" >/dev/null
  pg_start "$data" "$port"
}

# Whether the broker lists as many permissions on the vhost as the backup holds.
rabbit_imported() {
  local want have
  want=$("$VPY" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["permissions"]))' "$BK/rabbitmq.json")
  have=$(rabbitmqctl -q --no-table-headers list_permissions -p "$VHOST" 9>&- 2>/dev/null | grep -c . || true)
  [ "$have" -ge "$want" ]
}

restore() {
  setup "$@"
  load_drill
  [ -f "$BK/manifest" ] || die "no backup in $BK (scripts/backup.sh backup $DIR)"
  # shellcheck source=/dev/null
  . "$BK/manifest"
  local t0 t scratch_port republished objects
  # A restore replaces the stores: never over running ones.
  port_closed "$PG_PORT" || die "PostgreSQL answers on :$PG_PORT: stop it (or lose) before a restore"
  port_closed "$MONGO_PORT" || die "mongod answers on :$MONGO_PORT: stop it (or lose) before a restore"
  t0=$(now_us)
  mkdir -p "$DIR/restore"
  t=$(now_us)
  scratch_port=$(free_port)
  recover "$DIR/pg/scratch" "$scratch_port"
  wait_for 120 "the scratch recovery to end" sh -c "[ \"\$(runuser -u postgres -- $PGBIN/psql -h $HOST -p $scratch_port -U postgres -qAtX -c 'SELECT pg_is_in_recovery()' hub 2>/dev/null)\" = f ]"
  as_pg "$PGBIN/psql" -h "$HOST" -p "$scratch_port" -U postgres -qAtX -v ON_ERROR_STOP=1 -F ' ' \
    -c "SELECT user_id, to_char(deleted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM deleted_account ORDER BY deleted_at" hub \
    >"$DIR/restore/deletions"
  as_pg "$PGBIN/pg_ctl" -D "$DIR/pg/scratch" -m immediate -w stop >/dev/null
  rm -rf "$DIR/pg/scratch"
  log "restore: deletion log in $(since "$t")s ($(wc -l <"$DIR/restore/deletions") deletions, $DIR/restore/deletions)"
  t=$(now_us)
  recover "$DIR/pg/data" "$PG_PORT" "$PG_RESTORE_POINT"
  wait_for 120 "PostgreSQL to reach $PG_RESTORE_POINT and promote" pg_promoted
  log "restore: postgresql to $PG_RESTORE_POINT in $(since "$t")s"
  t=$(now_us)
  republished=$(psql_drill -d hub -c "WITH r AS (UPDATE outbox SET published_at = NULL, attempts = 0, last_error = NULL
      WHERE published_at >= timestamptz '$EARLIEST' - make_interval(secs => ${REPUBLISH_MARGIN_SECS:-300})
        AND body::jsonb -> 'data' IS DISTINCT FROM '{\"redacted\":true}'::jsonb RETURNING 1) SELECT count(*) FROM r")
  log "restore: $republished outbox events pending again in $(since "$t")s"
  t=$(now_us)
  rm -rf "$DIR/mongo/data"
  cp -a "$BK/mongo" "$DIR/mongo/data"
  mongo_start
  log "restore: mongodb in $(since "$t")s"
  t=$(now_us)
  rabbitmqctl -q add_vhost "$VHOST" 9>&- || true
  rabbitmqctl -q import_definitions "$BK/rabbitmq.json" 9>&-
  # The import is asynchronous: wait until the vhost's permissions are back.
  wait_for 60 "the definitions of $VHOST to be imported" rabbit_imported
  log "restore: rabbitmq vhost $VHOST in $(since "$t")s"
  t=$(now_us)
  objects=$("$VPY" "$STORES_PY" s3-load "$BK/s3" "$BUCKET")
  log "restore: s3 bucket $BUCKET ($objects objects) in $(since "$t")s"
  log "restore: done in $(since "$t0")s; next: auth users replay-deletions $DIR/restore/deletions"
}

drill_down() {
  setup "$@"
  [ -f "$DIR/drill.env" ] || { rm -rf "$DIR"; return 0; }
  load_drill
  local data
  # The restore's scratch copy too, if a failed restore left it running.
  for data in "$DIR/pg/data" "$DIR/pg/scratch"; do
    if [ -f "$data/postmaster.pid" ]; then as_pg "$PGBIN/pg_ctl" -D "$data" -m immediate -w stop >/dev/null || true; fi
  done
  if [ -f "$DIR/mongo/mongod.pid" ]; then kill -9 "$(cat "$DIR/mongo/mongod.pid")" 2>/dev/null || true; fi
  wait_for 30 "mongod to exit" port_closed "$MONGO_PORT"
  rabbitmqctl -q delete_vhost "$VHOST" 9>&- 2>/dev/null || true
  "$VPY" "$STORES_PY" s3-drop "$BUCKET" || true
  rm -rf "$DIR"
  log "drill-down: $DIR removed"
}

COMMANDS=(drill-up backup lose restore drill-down env=env_cmd)
dispatch "$@"
