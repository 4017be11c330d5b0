#!/usr/bin/env bash
# Runs the benchmarks of docs/BENCHMARKS.md in one go, on this machine: release
# builds, a throwaway database, the server with limits opened up for load, then
# every scenario of parley-bench. Results print as tables and go to
# ${BENCH_JSON:-/tmp/parley-bench.json}. Sizes can be changed through BENCH_* below.
# BENCH_PEER=1 also runs the Node.js peer (../shared/peer-node, or BENCH_PEER_DIR:
# ws, the MongoDB Node driver, one write per message) through the same scenarios on
# the same database server, and prints Parley against it as ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
PEER=${BENCH_PEER:-0}
PEER_DIR=${BENCH_PEER_DIR:-$PWD/../shared/peer-node}
if [ "$PEER" = 1 ]; then
  [ -f "$PEER_DIR/server.js" ] || { echo "BENCH_PEER=1: no peer at $PEER_DIR (set BENCH_PEER_DIR)" >&2; exit 1; }
  PARLEY_EXTRA_APT="nodejs node-ws node-mongodb" bash scripts/setup.sh
else
  bash scripts/setup.sh
fi
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

SECONDS_PER_RUN=${BENCH_SECONDS:-10}
SENDERS=${BENCH_SENDERS:-40}
ROOMS=${BENCH_ROOMS:-8}
FANOUT_MEMBERS=${BENCH_FANOUT_MEMBERS:-1000}
OFFLINE_QUEUED=${BENCH_OFFLINE_QUEUED:-10000}
# One process may hold at most `ulimit -Hn` descriptors (20,000 here, and the limit
# cannot be raised without CAP_SYS_RESOURCE): one node is measured just under it,
# and two nodes sharing the database with the full count.
CONNECTIONS=${BENCH_CONNECTIONS:-19900}
CONNECTIONS_TWO_NODES=${BENCH_CONNECTIONS_TWO_NODES:-20000}
CEILING_DOCS=${BENCH_CEILING_DOCS:-50000}
PEER_CONNECTIONS=${BENCH_PEER_CONNECTIONS:-5000}
# One broadcast to BROADCAST_CONNECTIONS connections in one event room, over
# BROADCAST_NODES nodes sharing the database (each under the descriptor limit with
# its database connections: 100,000 over 6, not 5 of 20,000) and twice as many
# client processes; 0 skips it.
BROADCAST_CONNECTIONS=${BENCH_BROADCAST_CONNECTIONS:-100000}
BROADCAST_NODES=${BENCH_BROADCAST_NODES:-6}
OUT=${BENCH_JSON:-/tmp/parley-bench.json}

swift build -c release --product parley
swift build -c release --product parley-bench
bin=$(swift build -c release --show-bin-path)

work=$(mktemp -d /tmp/parley-bench.XXXXXX)
db_port=$(bash scripts/db.sh free-port)
port=$(bash scripts/db.sh free-port)
server_pid=""
node_pids=""
cleanup() {
  for pid in $server_pid $node_pids; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  bash scripts/db.sh stop "$work/db.pid" || true
  bash scripts/db.sh stop "$work/db2.pid" || true
  [ -f "$work/db3.pid" ] && bash scripts/db.sh stop "$work/db3.pid" || true
  rm -rf "$work"
}
trap cleanup EXIT
bash scripts/db.sh start "$db_port" "$work/storage" "$work/db.pid" "$work/db.log"
export MONGODB_URI="mongodb://127.0.0.1:$db_port"

ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
# A server node on port $1, logging to $2, sharing the database with the others.
start_node() {
  MONGODB_DATABASE=bench PORT=$1 MIGRATIONS_DIR="$PWD/migrations" LOG_LEVEL=warning PARLEY_ENV=test \
    JWT_SECRET=bench-secret-bench-secret-bench-secret BCRYPT_COST=4 \
    RATE_LIMIT_MESSAGES_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 AUTH_RATE_LIMIT_PER_MINUTE=1000000 \
    MAX_CONNECTIONS_PER_ADDRESS=1000000 MONGO_THREADS=${MONGO_THREADS:-2} \
    "$bin/parley" >"$2" 2>&1 &
}
wait_healthy() {
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0; sleep 0.2; done
  echo "the server on port $1 did not start" >&2; return 1
}
start_node "$port" "$work/server.log"
server_pid=$!
wait_healthy "$port"
url="http://127.0.0.1:$port"
rm -f "$OUT"

# The database slows as it fills, so its ceiling is measured just before and just
# after the maximum throughput, and that is read against the mean of the two.
"$bin/parley-bench" db-ceiling --mongodb-uri "$MONGODB_URI" --documents "$CEILING_DOCS" --json "$OUT"
# With the database's work per stored message (its serverStatus counters and CPU)
# beside what the ceiling probes cost it per document.
"$bin/parley-bench" throughput --url "$url" --senders "$SENDERS" --rooms "$ROOMS" --seconds "$SECONDS_PER_RUN" --label parley \
  --server-pid "$server_pid" --mongodb-uri "$MONGODB_URI" --json "$OUT"
"$bin/parley-bench" db-ceiling --mongodb-uri "$MONGODB_URI" --documents "$CEILING_DOCS" --json "$OUT"
# Half the database's ceiling, spread over the senders, for the latency target, and a
# light load (a fifth of it); each with where its time went (the stage histogram).
read -r half light < <(python3 -c "
import json; r = json.load(open('$OUT'))
ceilings = [x['figures']['documents inserted per s'] for x in r if x['scenario'] == 'db-ceiling']
stored = [x['figures']['messages stored per s'] for x in r if x['scenario'] == 'throughput'][0]
mean = sum(ceilings) / len(ceilings)
print(f'db-ceiling before and after: {ceilings[0]:.0f}/s, {ceilings[1]:.0f}/s; throughput {stored:.0f}/s = {stored / mean:.2f} of their mean', file=__import__('sys').stderr)
print(mean / 2 / $SENDERS, mean / 5 / $SENDERS)")
# The light load first: the peer's table reads the last run, at half.
"$bin/parley-bench" throughput --url "$url" --senders "$SENDERS" --rooms "$ROOMS" --rate "$light" --seconds "$SECONDS_PER_RUN" --label parley \
  --server-pid "$server_pid" --json "$OUT"
"$bin/parley-bench" throughput --url "$url" --senders "$SENDERS" --rooms "$ROOMS" --rate "$half" --seconds "$SECONDS_PER_RUN" --label parley \
  --server-pid "$server_pid" --json "$OUT"
python3 scripts/bench_stage_table.py "$OUT"
"$bin/parley-bench" fanout --url "$url" --members "$FANOUT_MEMBERS" --seconds "$SECONDS_PER_RUN" --label parley --server-pid "$server_pid" --json "$OUT"
# The flush against the database reading the same documents through one cursor, and
# the server's CPU per flushed message.
"$bin/parley-bench" offline --url "$url" --queued "$OFFLINE_QUEUED" --database bench --server-pid "$server_pid" --label parley --json "$OUT"
# The same backlog over ten rooms: what a user in several rooms returns to.
"$bin/parley-bench" offline --url "$url" --queued "$OFFLINE_QUEUED" --rooms 10 --database bench --server-pid "$server_pid" --label parley --json "$OUT"
"$bin/parley-bench" connections --url "$url" --count "$CONNECTIONS" --users 200 --rate 2000 --server-pid "$server_pid" --label parley --json "$OUT"
"$bin/parley-bench" connections --url "$url" --count "$CONNECTIONS" --users 200 --rate 2000 --server-pid "$server_pid" --socket-io --label parley --json "$OUT"
# The Node.js peer through the same scenarios, on the same database server (its own
# database), then a fresh Parley node for the connection count the peer is held to.
if [ "$PEER" = 1 ]; then
  peer_port=$(bash scripts/db.sh free-port)
  NODE_PATH=/usr/share/nodejs PORT=$peer_port MONGODB_URI="$MONGODB_URI" MONGODB_DATABASE=peer JWT_SECRET=bench-secret-bench-secret-bench-secret \
    node "$PEER_DIR/server.js" >"$work/peer.log" 2>&1 &
  peer_pid=$!
  node_pids="$node_pids $peer_pid"
  wait_healthy "$peer_port"
  peer="http://127.0.0.1:$peer_port"
  "$bin/parley-bench" throughput --url "$peer" --senders "$SENDERS" --rooms "$ROOMS" --seconds "$SECONDS_PER_RUN" --label peer --server-pid "$peer_pid" --json "$OUT"
  "$bin/parley-bench" throughput --url "$peer" --senders "$SENDERS" --rooms "$ROOMS" --rate "$half" --seconds "$SECONDS_PER_RUN" --label peer \
    --server-pid "$peer_pid" --json "$OUT"
  "$bin/parley-bench" fanout --url "$peer" --members "$FANOUT_MEMBERS" --seconds "$SECONDS_PER_RUN" --label peer --server-pid "$peer_pid" --json "$OUT"
  "$bin/parley-bench" offline --url "$peer" --queued "$OFFLINE_QUEUED" --database peer --server-pid "$peer_pid" --label peer --json "$OUT"
  "$bin/parley-bench" offline --url "$peer" --queued "$OFFLINE_QUEUED" --rooms 10 --database peer --server-pid "$peer_pid" --label peer --json "$OUT"
  "$bin/parley-bench" connections --url "$peer" --count "$PEER_CONNECTIONS" --users 200 --rate 2000 --server-pid "$peer_pid" --label peer --json "$OUT"
  kill "$peer_pid" 2>/dev/null && wait "$peer_pid" 2>/dev/null || true
  # A fresh Parley node for the count the peer is held to, one per transport.
  fresh_connections() {
    local fresh_port fresh_pid
    fresh_port=$(bash scripts/db.sh free-port)
    start_node "$fresh_port" "$work/fresh$1.log"
    fresh_pid=$!
    node_pids="$node_pids $fresh_pid"
    wait_healthy "$fresh_port"
    "$bin/parley-bench" connections --url "http://127.0.0.1:$fresh_port" --count "$PEER_CONNECTIONS" --users 200 --rate 2000 --server-pid "$fresh_pid" \
      --label parley-fresh --json "$OUT" "${@:2}"
    kill "$fresh_pid" 2>/dev/null && wait "$fresh_pid" 2>/dev/null || true
  }
  fresh_connections ""
  fresh_connections "-sio" --socket-io
  node_pids=""
  python3 scripts/bench_peer_table.py "$OUT"
fi
# The full count on two fresh nodes sharing the database, held by two client
# processes (one per node).
nodes=()
for n in 1 2; do
  node_port=$(bash scripts/db.sh free-port)
  start_node "$node_port" "$work/node$n.log"
  node_pids="$node_pids $!"
  wait_healthy "$node_port"
  nodes+=("$node_port")
done
pids=($node_pids)
"$bin/parley-bench" connections --url "http://127.0.0.1:${nodes[0]}" --node "http://127.0.0.1:${nodes[1]}" --processes 2 \
  --count "$CONNECTIONS_TWO_NODES" --users 200 --rate 2000 --server-pid "${pids[0]}" --server-pid "${pids[1]}" --json "$OUT"
# Cluster: three fresh nodes on a fresh database of their own (SecantusDB stops
# answering after some 130,000 inserts in a few minutes, cluster or not, and the
# runs above come close). Cross-node latency beside same-node latency in one run,
# at light load and at half the ceiling; then the maximum throughput with the
# senders on one node, and spread over the three, every room written from every
# node (8 rooms) or each room from one node (9 rooms).
# The first database and its node are done with: stopped, so the cluster's
# database does not share the two cores with their leftover work.
for pid in $server_pid $node_pids; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
server_pid=""
node_pids=""
bash scripts/db.sh stop "$work/db.pid" || true
db2_port=$(bash scripts/db.sh free-port)
bash scripts/db.sh start "$db2_port" "$work/storage2" "$work/db2.pid" "$work/db2.log"
export MONGODB_URI="mongodb://127.0.0.1:$db2_port"
cluster=()
for n in 1 2 3; do
  node_port=$(bash scripts/db.sh free-port)
  start_node "$node_port" "$work/cluster$n.log"
  node_pids="$node_pids $!"
  wait_healthy "$node_port"
  cluster+=("http://127.0.0.1:$node_port")
done
"$bin/parley-bench" cluster --url "${cluster[0]}" --node "${cluster[1]}" --senders 20 --rooms 4 --rate 5 --seconds "$SECONDS_PER_RUN" --json "$OUT"
"$bin/parley-bench" cluster --url "${cluster[0]}" --node "${cluster[1]}" --senders "$SENDERS" --rooms "$ROOMS" --rate "$half" \
  --seconds "$SECONDS_PER_RUN" --json "$OUT"
"$bin/parley-bench" throughput --url "${cluster[0]}" --senders "$SENDERS" --rooms 8 --seconds "$SECONDS_PER_RUN" --json "$OUT"
for rooms in 8 9; do
  "$bin/parley-bench" throughput --url "${cluster[0]}" --node "${cluster[1]}" --node "${cluster[2]}" --senders "$SENDERS" --rooms "$rooms" \
    --seconds "$SECONDS_PER_RUN" --json "$OUT"
done
python3 -c "
import json; r = json.load(open('$OUT'))
t = [x for x in r if x['scenario'] == 'throughput' and x['parameters'].get('rate per sender', '').startswith('max')]
one = t[-3]['figures']['messages stored per s']
for x in t[-2:]:
    three = x['figures']['messages stored per s']
    print(f\"3 nodes, {x['parameters']['rooms']} rooms: {three:.0f} stored/s = {three / one:.2f} of one node ({one:.0f}/s) on the same database\")"
for pid in $node_pids; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
node_pids=""
if [ "$BROADCAST_CONNECTIONS" -gt 0 ]; then
  first="" others=() pid_args=()
  for n in $(seq 1 "$BROADCAST_NODES"); do
    node_port=$(bash scripts/db.sh free-port)
    start_node "$node_port" "$work/broadcast$n.log"
    node_pids="$node_pids $!"
    pid_args+=(--server-pid "$!")
    wait_healthy "$node_port"
    if [ -z "$first" ]; then first="http://127.0.0.1:$node_port"; else others+=(--node "http://127.0.0.1:$node_port"); fi
  done
  "$bin/parley-bench" broadcast --url "$first" "${others[@]}" --count "$BROADCAST_CONNECTIONS" --users 200 --rate 2000 \
    --processes $((BROADCAST_NODES * 2)) "${pid_args[@]}" --json "$OUT"
fi
# Search: query time over SEARCH_MESSAGES (default 1,000,000) messages stored
# straight into a database of its own (about 1,000 a second on the embedded one).
for pid in $node_pids; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
node_pids=""
db3_port=$(bash scripts/db.sh free-port)
bash scripts/db.sh start "$db3_port" "$work/storage3" "$work/db3.pid" "$work/db3.log"
export MONGODB_URI="mongodb://127.0.0.1:$db3_port"
search_port=$(bash scripts/db.sh free-port)
start_node "$search_port" "$work/search.log"
node_pids="$!"
wait_healthy "$search_port"
MONGODB_DATABASE=bench "$bin/parley-bench" search --url "http://127.0.0.1:$search_port" --messages "${SEARCH_MESSAGES:-1000000}" --json "$OUT"
# Uploads: MiB/s through the server against the database's own GridFS rate, same run.
MONGODB_DATABASE=bench "$bin/parley-bench" uploads --url "http://127.0.0.1:$search_port" --json "$OUT"
bash scripts/db.sh stop "$work/db3.pid" || true
echo "results: $OUT"
