#!/usr/bin/env bash
# Runs the tests: installs what is missing, starts a throwaway database on a free
# loopback port, runs `swift test` (arguments are passed on), then the interop tests
# against a real `parley` (Tests/interop, pytest: the Python Socket.IO client, a
# native WebSocket client, and the web page in headless Chromium via selenium), and
# stops the database afterwards, also when the tests fail or are interrupted.
# Set TEST_MONGODB_URI to run against an existing mongod instead; pass arguments to
# run only some Swift tests (the interop tests then run only with PARLEY_INTEROP=1).
set -euo pipefail
cd "$(dirname "$0")/.."
# The tests also need a real browser for the web page, nginx in front of the
# cluster tests' nodes, and the Python clients.
PARLEY_EXTRA_APT="chromium chromium-driver nginx" \
PARLEY_EXTRA_PIP="python-socketio[client] websocket-client requests pytest selenium schemathesis" \
  bash scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"

if [ -n "${TEST_MONGODB_URI:-}" ]; then
  export MONGODB_URI="$TEST_MONGODB_URI"
else
  # Two throwaway SecantusDB servers: each is single-threaded, and the Swift tests
  # (run in parallel) take turns on them (Tests/TestSupport/DatabaseSlots.swift);
  # the interop tests use the first. On a failure their logs' tails are printed
  # before they are deleted.
  work=$(mktemp -d /tmp/parley-test-db.XXXXXX)
  cleanup() {
    status=$?
    for db in "$work"/db*; do
      [ -d "$db" ] || continue
      bash scripts/db.sh stop "$db/pid"
      if [ "$status" -ne 0 ] && [ -s "$db/log" ]; then
        echo "test: the last lines of $(basename "$db")'s log:" >&2
        tail -40 "$db/log" >&2
      fi
    done
    rm -rf "$work"
  }
  trap cleanup EXIT
  uris=()
  for n in 1 2; do
    port=$(bash scripts/db.sh free-port)
    bash scripts/db.sh start "$port" "$work/db$n/storage" "$work/db$n/pid" "$work/db$n/log"
    uris+=("mongodb://127.0.0.1:$port")
  done
  export MONGODB_URI="${uris[0]}" PARLEY_TEST_MONGODB_URIS="${uris[*]}"
  echo "test: throwaway databases on ${uris[*]}"
fi
export MIGRATIONS_DIR="$PWD/migrations"

swift build --build-tests
swift test --skip-build "$@"
if [ $# -eq 0 ] || [ "${PARLEY_INTEROP:-0}" = 1 ]; then
  PARLEY_BINARY="$(swift build --show-bin-path)/parley" python3 -m pytest -q -p no:cacheprovider Tests/interop
fi
