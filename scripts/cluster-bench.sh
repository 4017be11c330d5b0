#!/usr/bin/env bash
# The cluster rows of scripts/bench.sh, on a fresh database: one node's maximum,
# then three nodes with every room written from every node (8 rooms) and each room
# from one node (9 rooms), and cross-node latency at light load.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$1; out=$2; work=$(mktemp -d)
db_port=$(bash scripts/db.sh free-port)
bash scripts/db.sh start "$db_port" "$work/storage" "$work/db.pid" "$work/db.log" >/dev/null
export MONGODB_URI="mongodb://127.0.0.1:$db_port"
pids=""
cleanup() { for p in $pids; do kill $p 2>/dev/null || true; done; bash scripts/db.sh stop "$work/db.pid" >/dev/null 2>&1 || true; }
trap cleanup EXIT
cluster=()
for n in 1 2 3; do
  p=$(bash scripts/db.sh free-port)
  MONGODB_DATABASE=bench PORT=$p MIGRATIONS_DIR="$PWD/migrations" LOG_LEVEL=warning PARLEY_ENV=test NODE_ID=n$n \
    JWT_SECRET=bench-secret-bench-secret-bench-secret BCRYPT_COST=4 RATE_LIMIT_MESSAGES_PER_SECOND=1000000 RATE_LIMIT_BURST=1000000 \
    AUTH_RATE_LIMIT_PER_MINUTE=1000000 MAX_CONNECTIONS_PER_ADDRESS=1000000 MONGO_THREADS=2 "$bin/parley" > "$work/n$n.log" 2>&1 &
  pids="$pids $!"
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.2; done
  cluster+=("http://127.0.0.1:$p")
done
sleep 3
"$bin/parley-bench" cluster --url "${cluster[0]}" --node "${cluster[1]}" --senders 20 --rooms 4 --rate 5 --seconds 10 --json "$out"
"$bin/parley-bench" throughput --url "${cluster[0]}" --senders 40 --rooms 8 --seconds 10 --json "$out"
for rooms in 8 9; do
  "$bin/parley-bench" throughput --url "${cluster[0]}" --node "${cluster[1]}" --node "${cluster[2]}" --senders 40 --rooms "$rooms" --seconds 10 --json "$out"
done
grep -h "forwarded send is written here\|cannot be written" $work/n*.log | head -5 || true
python3 -c "
import json; r = json.load(open('$out'))
t = [x for x in r if x['scenario'] == 'throughput']
one = t[-3]['figures']['messages stored per s']
for x in t[-2:]:
    three = x['figures']['messages stored per s']
    print(f\"3 nodes, {x['parameters']['rooms']} rooms: {three:.0f} stored/s = {three / one:.2f} of one node ({one:.0f}/s)\")
c = [x for x in r if x['scenario'] == 'cluster'][-1]; print('cluster light:', c['figures'])"
