#!/usr/bin/env bash
# Runs Parley: installs what is missing, starts the embedded database under ./data
# when MONGODB_URI is unset (in the environment and in .env), builds, applies
# migrations and serves the web page and the APIs. Ctrl-C stops the server and the
# database it started.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

dotenv_uri=""
[ -f .env ] && dotenv_uri=$(grep -E '^\s*(export\s+)?MONGODB_URI=' .env | tail -1 | cut -d= -f2- | tr -d '"'"'" || true)
if [ -z "${MONGODB_URI:-}" ] && [ -z "$dotenv_uri" ]; then
  db_port=${PARLEY_DB_PORT:-27017}
  bash scripts/db.sh start "$db_port" data/db data/secantusd.pid data/secantusd.log
  export MONGODB_URI="mongodb://127.0.0.1:$db_port"
  # The embedded database runs one command at a time: two driver threads measured
  # better than eight against it (docs/BENCHMARKS.md).
  export MONGO_THREADS="${MONGO_THREADS:-2}"
  trap 'bash scripts/db.sh stop data/secantusd.pid' EXIT
  echo "run: embedded database on $MONGODB_URI (storage ./data/db)"
fi

config=${PARLEY_BUILD:-release}
swift build -c "$config" --product parleyctl
swift build -c "$config" --product parley
bin=$(swift build -c "$config" --show-bin-path)
"$bin/parleyctl" migrate
"$bin/parley"
