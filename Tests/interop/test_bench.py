"""parley-bench against a real parley: its WebSocket client (its own framing, see
BenchWireTests) must count what a server sends, or every figure in
docs/BENCHMARKS.md is wrong. Small sizes; the figures themselves come from
scripts/bench.sh, never from here."""
import json
import os
import subprocess
import uuid

import pymongo
import pytest

from conftest import ROOT, database_uri, launch


def bench_binary():
    server = os.environ.get("PARLEY_BINARY", os.path.join(ROOT, ".build", "debug", "parley"))
    path = os.path.join(os.path.dirname(server), "parley-bench")
    assert os.path.exists(path), f"{path} is missing: scripts/test.sh builds it with the tests"
    return path


@pytest.fixture(scope="module")
def node():
    uri = database_uri()
    database = "t_bench_" + uuid.uuid4().hex[:10]
    handle = launch(uri, database, RATE_LIMIT_MESSAGES_PER_SECOND=1000000, RATE_LIMIT_BURST=1000000,
                    MAX_CONNECTIONS_PER_ADDRESS=1000000)
    yield handle
    handle.stop()
    pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)


def run(node, tmp_path, *args):
    out = tmp_path / "bench.json"
    done = subprocess.run([bench_binary(), *args, "--url", node.url, "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())[-1]
    return result["figures"]


def test_fanout_counts_every_delivery(node, tmp_path):
    members, window, seconds = 40, 8, 2
    figures = run(node, tmp_path, "fanout", "--members", str(members), "--window", str(window), "--seconds", str(seconds),
                  "--server-pid", str(node.process.pid))
    assert figures["errors"] == 0
    stored = figures["messages stored per s"] * seconds
    delivered = figures["deliveries per s"] * seconds
    assert stored > 0
    # Each stored message reaches every member. The two counts are of one window, and
    # a loaded machine can read a receiver's frames well after the sender's ack, so
    # they match only roughly; a client that lost or doubled frames would be far off.
    # (test_offline_receives_the_whole_backlog counts exactly.)
    assert 0.5 * members * stored <= delivered <= 1.5 * members * stored + 2 * window * members, figures
    assert 0 < figures["latency p50 ms"] <= figures["latency p99 ms"]
    assert figures["server CPU us per delivery"] > 0 and figures["bench CPU us per delivery"] > 0


def test_offline_receives_the_whole_backlog(node, tmp_path):
    figures = run(node, tmp_path, "offline", "--queued", "600", "--rooms", "3")
    assert figures["messages flushed"] == 600


@pytest.mark.parametrize("transport", ["native", "socket.io"])
def test_connections_open_and_authenticate(node, tmp_path, transport):
    extra = ["--socket-io"] if transport == "socket.io" else []
    figures = run(node, tmp_path, "connections", "--count", "60", "--users", "6", "--hold", "0",
                  "--server-pid", str(node.process.pid), *extra)
    assert figures["failures"] == 0
    assert figures["server RSS after MiB"] > 0
