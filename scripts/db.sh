#!/usr/bin/env bash
# Starts and stops the embedded database (SecantusDB, a MongoDB-wire server on
# WiredTiger), always on loopback.
#   scripts/db.sh start PORT STORAGE_DIR PIDFILE LOGFILE   (waits until it answers)
#   scripts/db.sh stop PIDFILE
#   scripts/db.sh free-port                                 (prints a free loopback port)
set -euo pipefail

wait_until_up() {
  python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
deadline = time.time() + 60
while time.time() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit(1)
PY
}

case "${1:-}" in
  start)
    port=$2 storage=$3 pidfile=$4 logfile=$5
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "db: already running (pid $(cat "$pidfile")) on port $port"
      exit 0
    fi
    mkdir -p "$storage" "$(dirname "$logfile")"
    # `python3 -m secantus` is the `secantusd-py` entry point, without relying on PATH.
    # The WiredTiger cache is 4 GiB (SECANTUS_CACHE_SIZE; SecantusDB's default is
    # 1 GiB), taken as it fills. SecantusDB 0.7.0b3 holds its storage lock while a
    # thread helps WiredTiger evict, and the threads whose snapshots pin what is to
    # be evicted wait for that lock: once the dirty data reaches WiredTiger's
    # trigger (a fifth of the cache) everything can stop for good. An interop run
    # hung so on 1 GiB, just after the uploads test wrote 100 MiB (py-spy's native
    # stacks: the lock's holder in __wt_cache_eviction_worker, 2026-12-03).
    nohup python3 -m secantus --host 127.0.0.1 --port "$port" --storage-path "$storage" --log-level WARNING \
      --cache-size "${SECANTUS_CACHE_SIZE:-4G}" >"$logfile" 2>&1 </dev/null &
    echo $! >"$pidfile"
    if ! wait_until_up "$port"; then
      echo "db: SecantusDB did not start on 127.0.0.1:$port; its log:" >&2
      tail -20 "$logfile" >&2 || true
      exit 1
    fi
    ;;
  stop)
    pidfile=$2
    [ -f "$pidfile" ] || exit 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
    ;;
  free-port)
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
    ;;
  *)
    echo "usage: scripts/db.sh start PORT DIR PIDFILE LOGFILE | stop PIDFILE | free-port" >&2
    exit 64
    ;;
esac
