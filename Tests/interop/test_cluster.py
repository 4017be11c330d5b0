"""Cluster mode across real processes: three `parley` nodes sharing one throwaway
database, behind a real nginx with sticky routing, so that one client is on node 1
and another on node 3. In every scenario each receiver's duplicates, missing
acknowledged messages and out-of-order seqs are counted, and all three must be 0."""
import os
import signal
import subprocess
import time
import uuid

import pymongo
import pymongo.errors
import pytest
import requests
import socketio
import websocket

from cluster import Nginx, Tally, receive, wait_until
from conftest import ROOT, database_uri, free_port, launch, register_user
from native import Closed, Native

# Short so the dead-node test is quick: a node silent for 3 s is dead.
CLUSTER_ENV = {"HEARTBEAT_MS": "300", "NODE_TIMEOUT_MS": "3000"}


class Cluster:
    def __init__(self, uri, database, count=3):
        self.uri, self.database = uri, database
        self.nodes = {f"n{i}": launch(uri, database, NODE_ID=f"n{i}", **CLUSTER_ENV) for i in range(1, count + 1)}
        for node in self.nodes.values():
            wait_until(lambda: requests.get(node.url + "/healthz", timeout=5).json().get("nodes") == count, what="every node alive")
        self.proxy = Nginx([int(n.url.rsplit(":", 1)[1]) for n in self.nodes.values()])
        self.source = self.proxy.sources(list(self.nodes))

    def client(self, node, user):
        """A native client through nginx that lands on `node`."""
        return Native(self.proxy.ws_url, user["token"], source=self.source[node])

    def user(self, prefix):
        return register_user(self.proxy.url, prefix)

    def room(self, owner, *members, name="room"):
        auth = {"Authorization": "Bearer " + owner["token"]}
        room = requests.post(self.proxy.url + "/api/rooms", json={"name": name}, headers=auth, timeout=10).json()["room"]["id"]
        for m in members:
            r = requests.post(f"{self.proxy.url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + m["token"]}, timeout=10)
            assert r.status_code == 200, r.text
        return room

    def stop(self):
        self.proxy.stop()
        for n in self.nodes.values():
            n.stop()


@pytest.fixture(scope="module")
def cluster():
    uri = database_uri()
    database = "t_cluster_" + uuid.uuid4().hex[:10]
    c = Cluster(uri, database)
    yield c
    c.stop()
    pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)


def test_every_node_is_healthy_and_counts_the_others(cluster):
    ids = set()
    for node_id, node in cluster.nodes.items():
        health = requests.get(node.url + "/healthz", timeout=5).json()
        assert health == {"status": "ok", "database": "ok", "cluster": "ok", "node": node_id, "nodes": 3}
        ids.add(health["node"])
    assert ids == {"n1", "n2", "n3"}
    # Sticky: the same client address always reaches the same node.
    for node_id, source in cluster.source.items():
        assert {cluster.proxy.node_of(source) for _ in range(5)} == {node_id}


def test_messages_both_ways_in_order_once(cluster):
    alice, bob = cluster.user("alice"), cluster.user("bob")
    room = cluster.room(alice, bob)
    a, b = cluster.client("n1", alice), cluster.client("n3", bob)
    a2 = cluster.client("n2", alice)  # Alice's second device
    count = 60
    # Both send at once, without waiting for acks.
    for i in range(count):
        a.send("message:send", {"roomId": room, "text": f"a{i}", "clientId": f"a{i}"}, f"a{i}")
        b.send("message:send", {"roomId": room, "text": f"b{i}", "clientId": f"b{i}"}, f"b{i}")
    a_ids = [a.ack(f"a{i}")["data"]["message"]["id"] for i in range(count)]
    b_ids = [b.ack(f"b{i}")["data"]["message"]["id"] for i in range(count)]
    at_b = receive(b, room, Tally(), count)
    at_a = receive(a, room, Tally(), count)
    at_a2 = receive(a2, room, Tally(), 2 * count)
    for tally, expected in ((at_b, a_ids), (at_a, b_ids), (at_a2, a_ids + b_ids)):
        assert (tally.duplicates, tally.missing(expected), tally.out_of_order) == (0, 0, 0)
    # The sending connection never gets its own messages; the seqs are dense.
    assert set(at_b.ids) == set(a_ids) and set(at_a.ids) == set(b_ids)
    assert sorted(at_a2.seqs) == list(range(1, 2 * count + 1))
    for c in (a, b, a2):
        c.close()


def test_receipts_typing_activity_and_presence_cross_nodes(cluster):
    alice, bob, carol = cluster.user("alice"), cluster.user("bob"), cluster.user("carol")
    room = cluster.room(alice, bob, carol)
    a, b = cluster.client("n1", alice), cluster.client("n3", bob)
    ack = a.request("message:send", {"roomId": room, "text": "read me", "clientId": "r1"})
    seq = ack["data"]["message"]["seq"]
    b.wait_for("message:new")
    assert b.request("message:read", {"roomId": room, "seq": seq})["ok"]
    status = a.wait_for("message:status", lambda d: d["userId"] == bob["id"])["data"]
    assert status == {"roomId": room, "userId": bob["id"], "deliveredSeq": seq, "readSeq": seq}

    assert a.request("typing", {"roomId": room, "isTyping": True})["ok"]
    typing = b.wait_for("typing")["data"]
    assert typing == {"roomId": room, "userId": alice["id"], "username": alice["username"], "displayName": alice["username"], "isTyping": True}
    assert b.request("room:activity", {"roomId": room, "kind": "scroll", "data": {"top": 3}})["ok"]
    activity = a.wait_for("room:activity")["data"]
    assert activity["kind"] == "scroll" and activity["userId"] == bob["id"] and activity["data"] == {"top": 3}

    # Carol comes online on node 2: Alice (node 1) hears it, and every node lists her.
    c = cluster.client("n2", carol)
    online = a.wait_for("presence", lambda d: d["userId"] == carol["id"])["data"]
    assert online["status"] == "online"
    for node in cluster.nodes.values():
        wait_until(lambda: carol["id"] in {u["id"] for u in requests.get(
            node.url + "/api/users/online", headers={"Authorization": "Bearer " + alice["token"]}, timeout=5).json()["users"]},
            what=f"carol online on {node.url}")
    assert b.request("presence:set", {"status": "away"})["ok"]
    away = a.wait_for("presence", lambda d: d["userId"] == bob["id"] and d["status"] == "away")["data"]
    assert away["status"] == "away"
    c.close()
    offline = a.wait_for("presence", lambda d: d["userId"] == carol["id"] and d["status"] == "offline")["data"]
    assert offline["lastSeenAt"]
    user = requests.get(f"{cluster.nodes['n3'].url}/api/users/{carol['id']}", headers={"Authorization": "Bearer " + bob["token"]}, timeout=5)
    assert user.json()["user"]["online"] is False
    for x in (a, b):
        x.close()


def test_joins_and_leaves_reach_every_node(cluster):
    alice, bob, dan, erin = (cluster.user(p) for p in ("alice", "bob", "dan", "erin"))
    room = cluster.room(alice, bob, erin)
    a, b = cluster.client("n1", alice), cluster.client("n3", bob)
    d, e = cluster.client("n2", dan), cluster.client("n2", erin)  # Erin watches node 2
    auth = {"Authorization": "Bearer " + dan["token"]}
    # Dan joins through node 1: his connection on node 2 is subscribed, Alice and Erin hear it.
    assert requests.post(f"{cluster.nodes['n1'].url}/api/rooms/{room}/join", headers=auth, timeout=10).status_code == 200
    # (Erin's own join, through another node, may still be on its way to the clients
    # that connected after it: wait for Dan's.)
    assert a.wait_for("room:user:joined", lambda d: d["user"]["id"] == dan["id"])["data"]["roomId"] == room
    assert e.wait_for("room:user:joined", lambda d: d["user"]["id"] == dan["id"])["data"]["roomId"] == room
    sent = b.request("message:send", {"roomId": room, "text": "welcome dan", "clientId": "w"})["data"]["message"]
    assert d.wait_for("message:new")["data"]["message"]["id"] == sent["id"]

    # Dan leaves through node 3: from then on his node-2 connection gets nothing of the room.
    assert requests.post(f"{cluster.nodes['n3'].url}/api/rooms/{room}/leave", headers=auth, timeout=10).status_code == 200
    assert d.wait_for("room:user:left")["data"]["userId"] == dan["id"]
    assert e.wait_for("room:user:left")["data"]["userId"] == dan["id"]
    after = a.request("message:send", {"roomId": room, "text": "dan is gone", "clientId": "g"})["data"]["message"]
    assert e.wait_for("message:new", lambda m: m["message"]["id"] == after["id"])
    # Erin (same node) has it, so Dan's copy would be queued ahead of his ping's ack.
    d.request("ping", {})
    assert all(f["data"]["message"]["id"] != after["id"] for f in d.unread if f["type"] == "message:new")
    for x in (a, b, d, e):
        x.close()


def test_a_removal_on_one_node_holds_on_every_node_and_parleyctl_reaches_them_too(cluster):
    """A private room with members on nodes 1, 2 and 3. The owner (node 1) removes
    Dan (node 2): Dan's sockets get room:removed and nothing more of the room, the
    others hear who and why. Then parleyctl, a separate process, removes Erin
    (node 3): her socket hears of it at once, through the one-shot signal batch."""
    alice, dan, erin, bob = (cluster.user(p) for p in ("alice", "dan", "erin", "bob"))
    auth = {"Authorization": "Bearer " + alice["token"]}
    room = requests.post(cluster.proxy.url + "/api/rooms", json={"name": "crew", "memberIds": [dan["id"], erin["id"], bob["id"]]},
                         headers=auth, timeout=10).json()["room"]["id"]
    a, d, e, b = cluster.client("n1", alice), cluster.client("n2", dan), cluster.client("n3", erin), cluster.client("n2", bob)
    acked = []
    first = a.request("message:send", {"roomId": room, "text": "before", "clientId": "r1"})["data"]["message"]
    acked.append(first["id"])
    for x in (d, e, b):
        x.wait_for("message:new", lambda m: m["message"]["id"] == first["id"])
    r = requests.delete(f"{cluster.nodes['n1'].url}/api/rooms/{room}/members/{dan['id']}", json={"reason": "rotation"}, headers=auth, timeout=10)
    assert r.status_code == 200, r.text
    removed = d.wait_for("room:removed")["data"]
    assert removed == {"roomId": room, "by": alice["id"], "reason": "rotation", "banned": False}
    left = e.wait_for("room:user:left", lambda x: x["userId"] == dan["id"])["data"]
    assert left["by"] == alice["id"] and left["reason"] == "rotation"
    after = a.request("message:send", {"roomId": room, "text": "after", "clientId": "r2"})["data"]["message"]
    acked.append(after["id"])
    # Bob shares Dan's node: once Bob has it, Dan's copy would be queued ahead of his ping's ack.
    b.wait_for("message:new", lambda m: m["message"]["id"] == after["id"])
    d.request("ping", {})
    assert all(f["data"]["message"]["id"] != after["id"] for f in d.frames if f["type"] == "message:new")
    assert d.request("message:send", {"roomId": room, "text": "still here?", "clientId": "r3"})["error"]["code"] == "not_found"

    # parleyctl removes Erin: a separate process, one signal batch, her node hears it.
    env = dict(os.environ, MONGODB_URI=cluster.uri, MONGODB_DATABASE=cluster.database, MIGRATIONS_DIR=os.path.join(ROOT, "migrations"))
    binary = os.path.join(os.path.dirname(os.environ.get("PARLEY_BINARY", os.path.join(ROOT, ".build", "debug", "parley"))), "parleyctl")
    erin_name = requests.get(cluster.proxy.url + "/api/auth/profile", headers={"Authorization": "Bearer " + erin["token"]}, timeout=10).json()["user"]["username"]
    run = subprocess.run([binary, "room", "remove", room, erin_name, "--reason", "by the operator"], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert e.wait_for("room:removed")["data"]["reason"] == "by the operator"
    assert b.wait_for("room:user:left", lambda x: x["userId"] == erin["id"])["data"]["reason"] == "by the operator"
    last = a.request("message:send", {"roomId": room, "text": "two left", "clientId": "r4"})["data"]["message"]
    acked.append(last["id"])
    b.wait_for("message:new", lambda m: m["message"]["id"] == last["id"])
    e.request("ping", {})
    assert all(f["data"]["message"]["id"] != last["id"] for f in e.frames if f["type"] == "message:new")
    # Bob, who stayed, got each acknowledged message once and in order.
    tally = Tally()
    for f in b.frames:
        if f["type"] == "message:new" and f["data"]["message"]["roomId"] == room:
            tally.add(f["data"]["message"])
    assert (tally.duplicates, tally.missing(acked), tally.out_of_order) == (0, 0, 0)
    for x in (a, d, e, b):
        x.close()


def test_replies_edits_and_reactions_reach_every_node(cluster):
    """A reply in a thread on node 3 to a message from node 1, an edit and a
    reaction: each client sees the others' changes live, whichever node it is on."""
    alice, bob, carol = (cluster.user(p) for p in ("alice", "bob", "carol"))
    room = cluster.room(alice, bob, carol)
    a, b, c = cluster.client("n1", alice), cluster.client("n3", bob), cluster.client("n2", carol)
    root = a.request("message:send", {"roomId": room, "text": "ship friday?", "clientId": "q1"})["data"]["message"]
    b.wait_for("message:new", lambda m: m["message"]["id"] == root["id"])
    reply = b.request("message:send", {"roomId": room, "text": "yes", "clientId": "q2", "replyTo": root["id"], "threadId": root["id"]})["data"]["message"]
    seen = c.wait_for("message:new", lambda m: m["message"]["id"] == reply["id"])["data"]["message"]
    assert seen["replyTo"]["id"] == root["id"] and seen["replyTo"]["excerpt"] == "ship friday?" and seen["threadId"] == root["id"]
    counted = a.wait_for("message:updated", lambda u: u["message"]["id"] == root["id"] and u["message"]["replyCount"] == 1)["data"]
    assert counted["updateSeq"] >= 1
    assert a.request("message:edit", {"messageId": root["id"], "text": "ship friday at noon?"})["ok"]
    assert c.wait_for("message:updated", lambda u: u["message"]["text"] == "ship friday at noon?")["data"]["message"]["rev"] >= 2
    assert c.request("reaction:add", {"messageId": root["id"], "emoji": "+1"})["ok"]
    assert b.wait_for("message:updated", lambda u: u["message"]["reactions"] and u["message"]["reactions"][0]["emoji"] == "+1")
    for x in (a, b, c):
        x.close()


def test_socketio_long_polling_through_nginx(cluster):
    alice, bob = cluster.user("alice"), cluster.user("bob")
    room = cluster.room(alice, bob)
    # All of python-socketio's polls come from 127.0.0.1, so they stay on one node; Bob
    # is put on another one.
    polling_node = cluster.proxy.node_of("127.0.0.1")
    other = next(n for n in cluster.nodes if n != polling_node)
    b = cluster.client(other, bob)
    sio = socketio.Client(reconnection=False)
    got = []
    sio.on("message:new", lambda data: got.append(data["message"]))
    sio.connect(cluster.proxy.url, transports=["polling"], auth={"token": alice["token"]}, wait_timeout=10)
    try:
        reply = sio.call("message:send", {"roomId": room, "text": "over polling", "clientId": "p1"}, timeout=10)
        assert reply["ok"], reply
        assert b.wait_for("message:new")["data"]["message"]["text"] == "over polling"
        ids = [b.request("message:send", {"roomId": room, "text": f"to polling {i}", "clientId": f"q{i}"})["data"]["message"]["id"]
               for i in range(10)]
        wait_until(lambda: len(got) >= 10, what="10 messages over polling")
        tally = Tally()
        for m in got:
            tally.add(m)
        assert (tally.duplicates, tally.missing(ids), tally.out_of_order) == (0, 0, 0)
        assert sio.transport() == "polling"
    finally:
        sio.disconnect()
        b.close()


def test_dialect_clients_on_one_node_and_ws_clients_on_another(cluster):
    """A live-event guest and a collagemedia user on one node, `/ws` on another: the
    dialects' events are Parley's, so they cross nodes like any other."""
    from dialect_client import DialectClient

    host = cluster.user("host")
    dialect_node = cluster.proxy.node_of("127.0.0.1")  # python-socketio connects from 127.0.0.1
    other = next(n for n in cluster.nodes if n != dialect_node)
    r = requests.post(cluster.proxy.url + "/api/rooms", json={"name": "cluster event", "kind": "event", "guestAccess": True},
                      headers={"Authorization": "Bearer " + host["token"]}, timeout=10)
    assert r.status_code == 201, r.text
    room = r.json()["room"]["id"]
    native = cluster.client(other, host)
    guest = DialectClient(cluster.proxy.url, "live-event")
    collage = DialectClient(cluster.proxy.url, "collagemedia", auth={"token": cluster.user("cm")["token"]})
    try:
        collage.wait_for("rooms:list")
        guest.emit("joinEvent", {"username": "Far Away", "eventId": room})
        guest.wait_for("eventHistory")
        assert native.wait_for("room:user:joined")["data"]["user"]["displayName"] == "Far Away"
        guest.emit("sendMessage", {"eventId": room, "message": "from the dialect node"})
        assert native.wait_for("message:new")["data"]["message"]["text"] == "from the dialect node"
        assert native.request("message:send", {"roomId": room, "text": "from the other node", "clientId": "x1"})["ok"]
        assert guest.wait_for("newMessage", lambda m: m["text"] == "from the other node")["username"] == host["username"]
        native.send("typing", {"roomId": room, "isTyping": True})
        assert guest.wait_for("userTyping")["userId"] == host["id"]
        # A public room made on the other node is news to the collagemedia user here.
        made = requests.post(cluster.nodes[other].url + "/api/rooms", json={"name": "made elsewhere"},
                             headers={"Authorization": "Bearer " + host["token"]}, timeout=10).json()["room"]
        assert collage.wait_for("rooms:new", lambda r: r["id"] == made["id"])["name"] == "made elsewhere"
    finally:
        guest.close()
        collage.close()
        native.close()


def test_kill_9_of_a_node_loses_nothing_and_its_users_go_offline(cluster):
    """A fourth node joins, its client sends, and it is killed with SIGKILL: the
    client reconnects through nginx and misses nothing, and the others show the
    node's user offline within the node timeout."""
    alice, frank = cluster.user("alice"), cluster.user("frank")
    room = cluster.room(alice, frank)
    a = cluster.client("n1", alice)
    doomed = launch(cluster.uri, cluster.database, NODE_ID="n4", **CLUSTER_ENV)
    f = Native(doomed.ws_url, frank["token"])
    assert a.wait_for("presence", lambda d: d["userId"] == frank["id"] and d["status"] == "online")
    mine = [f.request("message:send", {"roomId": room, "text": f"f{i}", "clientId": f"f{i}"})["data"]["message"]["id"] for i in range(20)]
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    killed = time.time()
    # Meanwhile Alice goes on; Frank is offline for the others once n4 is silent.
    theirs = [a.request("message:send", {"roomId": room, "text": f"x{i}", "clientId": f"x{i}"})["data"]["message"]["id"] for i in range(20)]
    a.wait_for("presence", lambda d: d["userId"] == frank["id"] and d["status"] == "offline")
    offline_after = time.time() - killed
    assert offline_after < 15, offline_after
    print(f"\nkill -9: the dead node's user was shown offline after {offline_after:.1f} s (NODE_TIMEOUT_MS=3000)")
    # Everything Frank had acknowledged is there; he reconnects through nginx and flushes.
    at_a = receive(a, room, Tally(), 20)
    assert (at_a.duplicates, at_a.missing(mine), at_a.out_of_order) == (0, 0, 0)
    again = cluster.client("n2", frank)
    tally = Tally()
    for m in again.flushed:
        tally.add(m["message"])
    assert (tally.duplicates, tally.missing(theirs), tally.out_of_order) == (0, 0, 0)
    assert a.wait_for("presence", lambda d: d["userId"] == frank["id"] and d["status"] == "online")
    for h in cluster.nodes.values():
        wait_until(lambda: requests.get(h.url + "/healthz", timeout=5).json()["nodes"] == 3, what="n4 buried")
    a.close()
    again.close()


def test_a_node_frozen_past_the_oplog_window_recovers(tmp_path):
    """SecantusDB with a tiny oplog, two nodes; one is frozen with SIGSTOP while the
    other stores far more than the oplog holds, then resumed. Its stream skipped what
    it missed, so it reconnects its clients, who flush: nothing missing, nothing twice."""
    db_port = free_port()
    db = subprocess.Popen(
        ["python3", "-m", "secantus", "--host", "127.0.0.1", "--port", str(db_port), "--storage-path", str(tmp_path / "storage"),
         "--log-level", "WARNING", "--oplog-max-entries", "200"],
        stdout=open(tmp_path / "db.log", "w"), stderr=subprocess.STDOUT, cwd=ROOT)
    uri = f"mongodb://127.0.0.1:{db_port}"

    def up():
        try:
            return pymongo.MongoClient(uri, serverSelectionTimeoutMS=500).admin.command("ping")
        except pymongo.errors.PyMongoError:
            return None

    wait_until(up, timeout=60, what="database up")
    frozen = launch(uri, "t_frozen", NODE_ID="frozen", **CLUSTER_ENV)
    live = launch(uri, "t_frozen", NODE_ID="live", **CLUSTER_ENV)
    try:
        alice, gina = register_user(live.url, "alice"), register_user(live.url, "gina")
        auth = {"Authorization": "Bearer " + alice["token"]}
        room = requests.post(live.url + "/api/rooms", json={"name": "f"}, headers=auth, timeout=10).json()["room"]["id"]
        requests.post(f"{live.url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + gina["token"]}, timeout=10)
        g = Native(frozen.ws_url, gina["token"])
        a = Native(live.ws_url, alice["token"])
        first = a.request("message:send", {"roomId": room, "text": "before", "clientId": "b0"})["data"]["message"]
        assert g.wait_for("message:new")["data"]["message"]["id"] == first["id"]
        frozen.process.send_signal(signal.SIGSTOP)
        try:
            ids = [a.request("message:send", {"roomId": room, "text": f"m{i}", "clientId": f"m{i}"})["data"]["message"]["id"]
                   for i in range(400)]
            a.wait_for("presence", lambda d: d["userId"] == gina["id"] and d["status"] == "offline")
        finally:
            frozen.process.send_signal(signal.SIGCONT)
        # The resumed node reconnects its clients: the socket closes (no silence, no
        # timeout), after whatever it still had live, each once and in order.
        live_part = Tally()
        with pytest.raises((Closed, websocket.WebSocketConnectionClosedException)):
            while True:
                live_part.add(g.take(lambda f: f["type"] == "message:new")["data"]["message"])
        assert live_part.duplicates == 0 and live_part.out_of_order == 0
        # Gina acknowledged nothing, so her flush holds the whole room: every message
        # stored while her node was frozen, once each, in order.
        g2 = Native(frozen.ws_url, gina["token"])
        flushed = Tally()
        for m in g2.flushed:
            flushed.add(m["message"])
        assert (flushed.duplicates, flushed.missing([first["id"]] + ids), flushed.out_of_order) == (0, 0, 0)
        assert a.wait_for("presence", lambda d: d["userId"] == gina["id"] and d["status"] == "online")
        a.close()
        g2.close()
    finally:
        for n in (frozen, live):
            if n.process.poll() is None:
                n.process.send_signal(signal.SIGCONT)
            n.stop()
        db.terminate()
        db.wait(timeout=20)


def stream_open(node):
    """`parley_cluster_stream_open` from the node's /metrics."""
    for line in requests.get(node.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("parley_cluster_stream_open "):
            return float(line.split()[-1])
    raise AssertionError("no parley_cluster_stream_open in /metrics")


def test_a_node_alone_watches_nothing_until_a_second_process_starts():
    """A node alone opens no change stream (it would cost the database a decode of
    every stored message). A second process starts: the first opens its stream by the
    time the second is healthy, and nothing said on either side is missed, including
    what the second node's client does in its first moments."""
    uri, database = database_uri(), "t_alone_" + uuid.uuid4().hex[:10]
    first = launch(uri, database, NODE_ID="first", **CLUSTER_ENV)
    second = None
    try:
        assert requests.get(first.url + "/healthz", timeout=5).json()["nodes"] == 1
        assert stream_open(first) == 0
        nodes = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)[database]["nodes"]
        assert nodes.find_one({"_id": "first"})["watching"] is False
        alice, bob = register_user(first.url, "alice"), register_user(first.url, "bob")
        auth = {"Authorization": "Bearer " + alice["token"]}
        room = requests.post(first.url + "/api/rooms", json={"name": "alone"}, headers=auth, timeout=10).json()["room"]["id"]
        assert requests.post(f"{first.url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + bob["token"]}, timeout=10).status_code == 200
        a = Native(first.ws_url, alice["token"])
        early = a.request("message:send", {"roomId": room, "text": "while alone", "clientId": "e0"})["data"]["message"]

        second = launch(uri, database, NODE_ID="second", **CLUSTER_ENV)
        # Healthy only once every live node watches: the first one's stream is open.
        assert stream_open(first) == 1
        # (A heartbeat written just before the stream opened may land after it: the
        # document says so again by the next heartbeat.)
        wait_until(lambda: nodes.find_one({"_id": "first"})["watching"] is True, what="the first node says it watches")
        wait_until(lambda: requests.get(first.url + "/healthz", timeout=5).json().get("nodes") == 2, what="the first node hears the second")
        b = Native(second.ws_url, bob["token"])
        assert [m["message"]["id"] for m in b.flushed] == [early["id"]]
        # At once, both ways: typing (never stored) and messages.
        assert b.request("typing", {"roomId": room, "isTyping": True})["ok"]
        assert a.wait_for("typing")["data"]["userId"] == bob["id"]
        ids = [b.request("message:send", {"roomId": room, "text": f"b{i}", "clientId": f"b{i}"})["data"]["message"]["id"] for i in range(20)]
        got = receive(a, room, Tally(), 20)
        assert (got.duplicates, got.missing(ids), got.out_of_order) == (0, 0, 0)
        back = a.request("message:send", {"roomId": room, "text": "back", "clientId": "a1"})["data"]["message"]
        assert b.wait_for("message:new", lambda d: d["message"]["id"] == back["id"])["data"]["message"]["seq"] == 22
        a.close()
        b.close()
    finally:
        for n in (first, second):
            if n:
                n.stop()
        pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)
