#!/usr/bin/env bash
# PostgreSQL and Redis for the distributed end-to-end test (and for trying a CeleryExecutor setup by
# hand), from Debian's packages, on free loopback ports, in a directory of the caller's choosing.
#
#   bash scripts/services.sh install        # apt-get the servers if they are missing (root or sudo)
#   bash scripts/services.sh start DIR      # initdb + postgres + redis-server under DIR; prints
#                                           # PG_URL=..., REDIS_URL=... (also in DIR/services.env)
#   bash scripts/services.sh stop DIR       # stop both, by the PIDs recorded under DIR
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` user (created by
# the Debian package), so DIR must be reachable by that user (e.g. a directory under /tmp, mode 755).
# Durability is off (fsync, synchronous_commit): this is a throwaway test database.
set -euo pipefail

pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

have_servers() {
  pg_bindir >/dev/null && command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1
}

cmd_install() {
  if have_servers; then
    echo "services: postgresql ($(pg_bindir)) and redis-server already installed"
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "services: need root or sudo to apt-get install postgresql redis-server" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "services: installing postgresql and redis-server from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -q
  $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends postgresql redis-server
  # The packages may start system-wide instances on the default ports; the test never uses them.
  have_servers || { echo "services: postgresql/redis-server still missing after apt-get" >&2; exit 1; }
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

start_postgres() {
  local dir="$1" bin port i
  bin="$(pg_bindir)"
  mkdir -p "$dir/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$dir/pg"
  as_pg_user "$bin/initdb" -D "$dir/pg/data" -U airflow --auth=trust -E UTF8 --no-instructions >"$dir/pg/initdb.log" 2>&1 \
    || { cat "$dir/pg/initdb.log" >&2; exit 1; }
  for _ in 1 2 3; do
    port="$(free_port)"
    as_pg_user "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/postgres.log" -w -t 60 start -o \
      "-p $port -c listen_addresses=127.0.0.1 -k $dir/pg -c max_connections=300 -c fsync=off \
       -c synchronous_commit=off -c full_page_writes=off" >/dev/null && break
    port=""
  done
  [ -n "$port" ] || { tail -20 "$dir/pg/postgres.log" >&2; exit 1; }
  head -1 "$dir/pg/data/postmaster.pid" >"$dir/postgres.pid"
  for i in $(seq 1 60); do
    "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
  done
  "$bin/createdb" -h 127.0.0.1 -p "$port" -U airflow airflow
  echo "PG_PORT=$port" >>"$dir/services.env"
  echo "PG_URL=postgresql://airflow@127.0.0.1:$port/airflow" >>"$dir/services.env"
}

start_redis() {
  local dir="$1" port=""
  mkdir -p "$dir/redis"
  for _ in 1 2 3; do
    port="$(free_port)"
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir/redis" --save "" --appendonly no \
      --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis/redis.log"
    for _ in $(seq 1 40); do
      redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && break 2
      sleep 0.25
    done
    port=""
  done
  [ -n "$port" ] || { tail -20 "$dir/redis/redis.log" >&2; exit 1; }
  echo "REDIS_PORT=$port" >>"$dir/services.env"
  echo "REDIS_URL=redis://127.0.0.1:$port/0" >>"$dir/services.env"
}

cmd_start() {
  local dir="${1:?usage: services.sh start DIR}"
  have_servers || cmd_install
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  chmod 755 "$dir"
  : >"$dir/services.env"
  start_postgres "$dir"
  start_redis "$dir"
  cat "$dir/services.env"
}

stop_pid() {
  local pidfile="$1" sig="$2" pid
  [ -f "$pidfile" ] || return 0
  pid="$(head -1 "$pidfile" | tr -d '[:space:]')"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  local dir="${1:?usage: services.sh stop DIR}"
  stop_pid "$dir/postgres.pid" INT   # SIGINT: PostgreSQL's fast shutdown
  stop_pid "$dir/redis.pid" TERM
}

case "${1:-}" in
  install) cmd_install ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
