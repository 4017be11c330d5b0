#!/usr/bin/env bash
# Runs a cluster of N Parley nodes on this machine behind nginx, sharing one
# database: the embedded one under ./data (as scripts/run.sh) unless MONGODB_URI is
# set. Installs what is missing (nginx too), builds, installs the binary with its
# migrations and web page under ./data/cluster/ (so it runs from any directory),
# starts node 1..N on PORT+1..PORT+N and nginx on PORT (8080), with sticky routing
# by client address. Ctrl-C stops everything it started.
#   scripts/cluster.sh [N]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3}
[[ "$count" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/cluster.sh [N]" >&2; exit 2; }
PARLEY_EXTRA_APT="nginx" bash scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
port=${PORT:-8080}
work=data/cluster
mkdir -p "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${own_db:-}" ] && bash scripts/db.sh stop data/secantusd.pid
  return 0
}
trap cleanup EXIT
trap "exit 130" INT TERM

if [ -z "${MONGODB_URI:-}" ]; then
  db_port=${PARLEY_DB_PORT:-27017}
  bash scripts/db.sh start "$db_port" data/db data/secantusd.pid data/secantusd.log
  export MONGODB_URI="mongodb://127.0.0.1:$db_port" MONGO_THREADS="${MONGO_THREADS:-2}"
  own_db=1
fi

config=${PARLEY_BUILD:-release}
swift build -c "$config" --product parleyctl
swift build -c "$config" --product parley
bin=$(swift build -c "$config" --show-bin-path)
# The install: the binaries with what they ship, beside them.
mkdir -p "$work/bin/docs"
cp "$bin/parley" "$bin/parleyctl" "$work/bin/"
rm -rf "$work/bin/migrations" "$work/bin/Public"
cp -r migrations Public "$work/bin/"
cp docs/openapi.yaml "$work/bin/docs/"
"$work/bin/parleyctl" migrate

servers=""
for n in $(seq 1 "$count"); do
  node_port=$((port + n))
  (cd "$work" && NODE_ID="node$n" PORT=$node_port exec bin/parley >"node$n.log" 2>&1) &
  pids+=($!)
  servers+="        server 127.0.0.1:$node_port max_fails=0;"$'\n'
done
prefix=$(cd "$work" && pwd)
mkdir -p "$prefix/nginx"
cat >"$prefix/nginx/nginx.conf" <<CONF
worker_processes 1;
pid $prefix/nginx/nginx.pid;
error_log $prefix/nginx/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    client_body_temp_path $prefix/nginx/body;
    proxy_temp_path $prefix/nginx/proxy;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' close; }
    upstream parley {
        hash \$remote_addr consistent;
$servers    }
    server {
        listen ${HOST:-127.0.0.1}:$port;
        location / {
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_read_timeout 3600s;
            proxy_buffering off;
        }
    }
}
CONF
for n in $(seq 1 "$count"); do
  for _ in $(seq 1 150); do curl -sf "http://127.0.0.1:$((port + n))/healthz" >/dev/null && break; sleep 0.2; done
done
nginx -p "$prefix/nginx" -c "$prefix/nginx/nginx.conf" -g "daemon off;" &
pids+=($!)
echo "cluster: $count nodes on ports $((port + 1))-$((port + count)), nginx on http://${HOST:-127.0.0.1}:$port (logs in $work/)"
curl -s "http://127.0.0.1:$((port + 1))/healthz"; echo
wait -n "${pids[@]}"
