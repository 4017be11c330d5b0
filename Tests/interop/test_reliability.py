"""Parley under faults, each against real processes: the server killed with SIGKILL
while senders stream, the database stopped under load and started again, and a
graceful SIGTERM. What a client saw acknowledged must be stored exactly once and
reach every recipient. Figures go to docs/RELIABILITY.md."""
import os
import signal
import socket
import subprocess
import threading
import time
import uuid

import pymongo
import pytest
import requests
import websocket
from bson import ObjectId

from conftest import ROOT, database_uri, free_port, launch, register_user as register
from native import Native


def group(url, owner, *members):
    """A room of `owner` that `members` joined; returns its id."""
    r = requests.post(url + "/api/rooms", json={"name": "faults"}, headers={"Authorization": "Bearer " + owner["token"]}, timeout=10)
    assert r.status_code == 201, r.text
    room = r.json()["room"]["id"]
    for m in members:
        r = requests.post(f"{url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + m["token"]}, timeout=10)
        assert r.status_code == 200, r.text
    return room


class Streamer(threading.Thread):
    """Streams `message:send` on one connection with up to `window` sends in flight,
    until stopped or the connection breaks. Records what was sent and what was acked."""

    def __init__(self, ws_url, user, room, tag, window=16):
        super().__init__(daemon=True)
        self.client = Native(ws_url, user["token"])
        self.user, self.room, self.tag, self.window = user, room, tag, window
        self.sent = {}        # clientId -> text
        self.acked = {}       # clientId -> message of a successful ack
        self.refused = {}     # clientId -> error code of a failed ack
        self.stop = threading.Event()
        self.broken = None

    def run(self):
        in_flight = {}
        n = 0
        try:
            while True:
                while not self.stop.is_set() and len(in_flight) < self.window:
                    n += 1
                    cid = f"{self.tag}-{n}"
                    text = f"{self.tag} message {n}"
                    self.sent[cid] = text
                    in_flight[f"s{n}"] = cid
                    self.client.send("message:send", {"roomId": self.room, "text": text, "clientId": cid}, f"s{n}")
                if self.stop.is_set() and not in_flight:
                    return
                frame = self.client.take(lambda f: f["type"] == "ack" and f.get("id") in in_flight)
                cid = in_flight.pop(frame["id"])
                if frame["ok"]:
                    self.acked[cid] = frame["data"]["message"]
                else:
                    self.refused[cid] = frame["error"]["code"]
        except Exception as e:  # the server went away: what is recorded stands
            self.broken = e

    def finish(self, timeout=30):
        self.stop.set()
        self.join(timeout)
        assert not self.is_alive(), "the sender did not finish"


def close_code(client):
    """Reads until the server's close frame; its code (None if the socket just ended)."""
    try:
        while True:
            client.next()
    except Exception:
        return client.close_code


def stored(db, room):
    return list(db.messages.find({"roomId": ObjectId(room)}).sort("seq", 1))


def assert_exactly_once(docs, senders):
    """Every acked message stored once with the acked id and seq; nothing twice."""
    by_key = {}
    for d in docs:
        key = (str(d["senderId"]), d["clientId"])
        assert key not in by_key, f"stored twice: {key}"
        by_key[key] = d
    seqs = [d["seq"] for d in docs]
    assert len(seqs) == len(set(seqs)), "a seq is used twice"
    for s in senders:
        for cid, message in s.acked.items():
            doc = by_key.get((s.user["id"], cid))
            assert doc is not None, f"acked but not stored: {cid}"
            assert str(doc["_id"]) == message["id"] and doc["seq"] == message["seq"]
            assert doc["text"] == s.sent[cid]
    return by_key


def resend_all(ws_url, streamer):
    """Retries every send of `streamer` with its clientId; acked ones must come back
    as the same message."""
    client = Native(ws_url, streamer.user["token"])
    for i, (cid, text) in enumerate(streamer.sent.items()):
        client.send("message:send", {"roomId": streamer.room, "text": text, "clientId": cid}, f"again{i}")
    answers = {}
    while len(answers) < len(streamer.sent):
        frame = client.take(lambda f: f["type"] == "ack" and f.get("id", "").startswith("again"))
        answers[frame["id"]] = frame
    for i, cid in enumerate(streamer.sent):
        frame = answers[f"again{i}"]
        assert frame["ok"], frame
        if cid in streamer.acked:
            assert frame["data"]["message"]["id"] == streamer.acked[cid]["id"], "a retry of an acked send made a new message"
    client.close()


def retry_refused(ws_url, streamer):
    """Retries each refused send of `streamer` with its clientId on a new connection,
    as a client's outbox does after `unavailable`; each must be acked now. Returns
    clientId -> the acked message."""
    client = Native(ws_url, streamer.user["token"])
    for i, cid in enumerate(streamer.refused):
        client.send("message:send", {"roomId": streamer.room, "text": streamer.sent[cid], "clientId": cid}, f"retry{i}")
    acked = {}
    for i, cid in enumerate(streamer.refused):
        frame = client.take(lambda f: f["type"] == "ack" and f.get("id") == f"retry{i}")
        assert frame["ok"], frame
        acked[cid] = frame["data"]["message"]
    client.close()
    return acked


def offline_queue(ws_url, user, room):
    """What `user` gets for `room` on connect, before `sync:done`."""
    client = Native(ws_url, user["token"])
    client.close()
    return [m["message"] for m in client.flushed if m["message"]["roomId"] == room]


@pytest.fixture
def mongo():
    client = pymongo.MongoClient(database_uri(), serverSelectionTimeoutMS=5000)
    names = []
    yield client, names
    for n in names:
        client.drop_database(n)


def test_kill_9_loses_nothing_acknowledged(mongo):
    client, names = mongo
    name = "t_crash_" + uuid.uuid4().hex[:8]
    names.append(name)
    port = free_port()
    first = launch(database_uri(), name, port=port)
    alice, carol, bob = register(first.url, "alice"), register(first.url, "carol"), register(first.url, "bob")
    room = group(first.url, alice, carol, bob)

    senders = [Streamer(first.ws_url, alice, room, "a"), Streamer(first.ws_url, carol, room, "c")]
    for s in senders:
        s.start()
    deadline = time.time() + 30
    while sum(len(s.acked) for s in senders) < 200 and time.time() < deadline:
        time.sleep(0.01)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    for s in senders:
        s.finish()
    acked = sum(len(s.acked) for s in senders)
    unacked = sum(len(s.sent) - len(s.acked) for s in senders)
    assert acked >= 200, "the senders did not get going"

    second = launch(database_uri(), name, port=port)
    try:
        db = client[name]
        assert_exactly_once(stored(db, room), senders)
        # Unacknowledged sends, retried with the same clientId, are stored at most once;
        # acknowledged ones come back as the message stored before the crash.
        for s in senders:
            resend_all(second.ws_url, s)
        docs = stored(db, room)
        by_key = assert_exactly_once(docs, senders)
        for s in senders:
            for cid in s.sent:
                assert (s.user["id"], cid) in by_key, f"a retried send is missing: {cid}"
        # Bob was offline throughout: his offline queue is every stored message, in order.
        queue = offline_queue(second.ws_url, bob, room)
        assert [m["seq"] for m in queue] == [d["seq"] for d in docs]
        gaps = docs[-1]["seq"] - len(docs)
        print(f"\nkill -9: {acked} acked and {unacked} in flight at the kill; after retries {len(docs)} stored once each; seq gaps {gaps}")
    finally:
        second.stop()


class Confirmer(threading.Thread):
    """An online member who confirms every message pushed to it with
    `message:delivered`, so its cursor moves while the senders stream."""

    def __init__(self, ws_url, user):
        super().__init__(daemon=True)
        self.client = Native(ws_url, user["token"])

    def run(self):
        try:
            while True:
                m = self.client.wait_for("message:new")["message"]
                self.client.send("message:delivered", {"roomId": m["roomId"], "seq": m["seq"]})
        except Exception:  # the server went away
            pass


def test_kill_9_offline_queue_holds_every_stored_message(mongo):
    """Killed under load in several rooms, restarted, and nobody writes again: each
    recipient's offline flush is exactly the stored messages above its cursor, in
    order, and `ready` counts them, including the ones acked in the last
    LAST_SEQ_RAISE_MS before the kill (above the room's trailing lastSeq). Three
    kills, so the window is hit whatever the timing of one."""
    above = [crash_and_check_queues(mongo, n) for n in range(3)]
    assert sum(above) > 0, "no kill landed while lastSeq trailed: the window was never tested"


def crash_and_check_queues(mongo, round_):
    """One kill and restart; returns how many stored messages were above lastSeq."""
    client, names = mongo
    name = f"t_crash_queue_{round_}_" + uuid.uuid4().hex[:8]
    names.append(name)
    port = free_port()
    first = launch(database_uri(), name, port=port)
    alice, carol, dave = (register(first.url, n) for n in ("alice", "carol", "dave"))
    bob, erin, frank = (register(first.url, n) for n in ("bob", "erin", "frank"))
    one = group(first.url, alice, dave, bob, erin)
    two = group(first.url, carol, dave, bob, frank)
    confirmer = Confirmer(first.ws_url, erin)  # online in `one`, confirming as it goes
    confirmer.start()
    senders = [Streamer(first.ws_url, alice, one, "a"), Streamer(first.ws_url, carol, two, "c"),
               Streamer(first.ws_url, dave, one, "d"), Streamer(first.ws_url, dave, two, "e")]
    for s in senders:
        s.start()
    # Killed once both rooms' lastSeq has been raised at least once: some messages
    # below it, the latest ones above it.
    db = client[name]
    raised = lambda: all((db.rooms.find_one({"_id": ObjectId(r)}) or {}).get("lastSeq", 0) > 0 for r in (one, two))
    deadline = time.time() + 30
    while (sum(len(s.acked) for s in senders) < 300 or not raised()) and time.time() < deadline:
        time.sleep(0.01)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    for s in senders:
        s.finish()
    assert sum(len(s.acked) for s in senders) >= 300 and raised(), "the senders did not get going"

    second = launch(database_uri(), name, port=port)
    try:
        docs = {room: stored(db, room) for room in (one, two)}
        for room in (one, two):
            assert_exactly_once(docs[room], [s for s in senders if s.room == room])
        trailing = {room: db.rooms.find_one({"_id": ObjectId(room)})["lastSeq"] for room in (one, two)}
        above = sum(len(docs[r]) - trailing[r] for r in (one, two))
        for user, rooms in ((bob, (one, two)), (erin, (one,)), (frank, (two,)), (alice, (one,))):
            cursors = {m["roomId"]: m for m in db.memberships.find({"userId": ObjectId(user["id"])})}
            queue = Native(second.ws_url, user["token"])
            queue.close()
            ready = {r["id"]: r for r in next(f for f in queue.frames if f["type"] == "ready")["data"]["rooms"]}
            for room in rooms:
                cursor = cursors[ObjectId(room)]
                expected = [d["seq"] for d in docs[room] if d["seq"] > cursor["deliveredSeq"]]
                got = [m["message"]["seq"] for m in queue.flushed if m["message"]["roomId"] == room]
                assert got == expected, (user["username"], room, cursor["deliveredSeq"], got[-5:], expected[-5:])
                head = docs[room][-1]["seq"]
                assert ready[room]["lastSeq"] == head and ready[room]["unread"] == head - cursor["readSeq"], ready[room]
        print(f"\nkill -9 (round {round_}): {len(docs[one])} + {len(docs[two])} stored, {above} above the trailing lastSeq; every flush complete")
        return above
    finally:
        second.stop()


def test_database_outage_answers_unavailable_and_recovers(tmp_path, mongo):
    client, names = mongo
    db_port = free_port()
    db_pid, db_log, storage = str(tmp_path / "db.pid"), str(tmp_path / "db.log"), str(tmp_path / "storage")

    def database(action):
        args = ["bash", os.path.join(ROOT, "scripts", "db.sh"), action]
        args += [str(db_port), storage, db_pid, db_log] if action == "start" else [db_pid]
        subprocess.run(args, check=True, timeout=120)

    database("start")
    uri = f"mongodb://127.0.0.1:{db_port}"
    name = "t_outage"
    server = launch(uri, name, MONGO_SERVER_SELECTION_TIMEOUT_MS=1000)
    try:
        alice, bob = register(server.url, "alice"), register(server.url, "bob")
        room = group(server.url, alice, bob)
        auth = {"Authorization": "Bearer " + alice["token"]}
        listener = Native(server.ws_url, bob["token"])
        sender = Streamer(server.ws_url, alice, room, "o", window=4)
        sender.start()
        while len(sender.acked) < 50:
            time.sleep(0.01)

        database("stop")
        # Down: the server stays up, says `unavailable`, and keeps its connections.
        deadline = time.time() + 30
        while not sender.refused and time.time() < deadline:
            time.sleep(0.05)
        assert sender.refused and set(sender.refused.values()) == {"unavailable"}, sender.refused
        r = requests.get(server.url + "/api/rooms", headers=auth, timeout=15)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        assert requests.get(server.url + "/healthz", timeout=15).status_code == 503
        assert server.process.poll() is None
        # A new socket cannot be authenticated now: 1013 (come back), never 4401 (sign in again).
        assert close_code(Native(server.ws_url, bob["token"], sync=False, timeout=15)) == 1013
        sender.client.send("typing", {"roomId": room, "isTyping": True})
        listener.wait_for("typing", lambda d: d.get("userId") == alice["id"])

        database("start")
        deadline = time.time() + 60
        while time.time() < deadline:
            if requests.get(server.url + "/healthz", timeout=5).status_code == 200:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the server did not recover when the database came back")
        acked_before = len(sender.acked)
        deadline = time.time() + 30
        while len(sender.acked) < acked_before + 50 and time.time() < deadline:
            time.sleep(0.01)
        sender.finish()
        assert len(sender.acked) >= acked_before + 50, "sends did not resume"
        assert sender.broken is None, f"the sender's connection was lost: {sender.broken}"
        # `unavailable` means the outcome is unknown: an insert can reach the database
        # just before it stops, its reply lost. The client retries each refused send
        # with its clientId; each is then stored exactly once, and one that had landed
        # comes back as the stored message and is announced to the room then.
        landed = {d["clientId"]: d for d in stored(client_for(uri)[name], room) if d["clientId"] in sender.refused}
        retried = retry_refused(server.ws_url, sender)
        for cid, doc in landed.items():
            assert retried[cid]["id"] == str(doc["_id"]), "the retry of a send that had landed made a new message"
        sender.acked.update(retried)
        docs = stored(client_for(uri)[name], room)
        assert_exactly_once(docs, [sender])
        assert {d["clientId"] for d in docs} == set(sender.acked), "stored without an ack, even after the retries"
        # Bob saw every stored message, live (a refused send that had landed, when its retry announced it).
        seen = {m["message"]["clientId"] for m in listener.pushes("message:new")}
        deadline = time.time() + 10
        while not set(sender.acked) <= seen and time.time() < deadline:
            listener.ws.settimeout(1)
            try:
                frame = listener.take(lambda f: f["type"] == "message:new")
                seen.add(frame["data"]["message"]["clientId"])
            except Exception:
                pass
        assert set(sender.acked) <= seen
        print(f"\noutage: {len(sender.refused)} refused as unavailable while down ({len(landed)} of them had landed), "
              f"{len(sender.acked)} acked with the retries, each stored once, none lost")
        listener.close()
    finally:
        server.stop()
        database("stop")


def test_frozen_database_never_hangs_parley(tmp_path, mongo):
    """The database process stopped with SIGSTOP: its sockets stay open and nothing
    comes back, as in a partition or a stalled disk. Parley answers within its
    deadlines (MONGO_OPERATION_TIMEOUT_MS, 5 s; /healthz 1.5 s), keeps its sockets,
    keeps ephemeral events flowing, and after SIGCONT resumes at once, losing
    nothing acknowledged and storing each retried send once."""
    from concurrent.futures import ThreadPoolExecutor

    import socketio

    db_port = free_port()
    db_pid, db_log, storage = str(tmp_path / "db.pid"), str(tmp_path / "db.log"), str(tmp_path / "storage")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "db.sh"), "start", str(db_port), storage, db_pid, db_log], check=True, timeout=120)
    pid = int(open(db_pid).read())
    uri = f"mongodb://127.0.0.1:{db_port}"
    name = "t_freeze"
    server = launch(uri, name)
    frozen = False
    try:
        alice, bob = register(server.url, "alice"), register(server.url, "bob")
        room = group(server.url, alice, bob)
        auth = {"Authorization": "Bearer " + alice["token"]}
        listener = Native(server.ws_url, bob["token"])
        sio = socketio.Client(reconnection=False)
        sio.connect(server.url, auth={"token": bob["token"]}, transports=["websocket"], wait_timeout=10)
        sender = Streamer(server.ws_url, alice, room, "f", window=4)
        sender.start()
        deadline = time.time() + 30
        while len(sender.acked) < 50 and time.time() < deadline:
            time.sleep(0.01)
        assert len(sender.acked) >= 50, "the sender did not get going"

        os.kill(pid, signal.SIGSTOP)
        frozen = True
        # The first health check after the freeze, and every one after it: 503 within 2 s.
        for _ in range(3):
            start = time.monotonic()
            r = requests.get(server.url + "/healthz", timeout=30)
            took = time.monotonic() - start
            assert r.status_code == 503 and took < 2, (r.status_code, took)
        # 200 concurrent REST calls all answer 503 within the deadline plus 1 s.

        def call(_):
            start = time.monotonic()
            r = requests.get(server.url + "/api/rooms", headers=auth, timeout=60)
            return r.status_code, r.json()["error"]["code"] if r.status_code != 200 else None, time.monotonic() - start

        with ThreadPoolExecutor(200) as pool:
            answers = list(pool.map(call, range(200)))
        slowest = max(t for _, _, t in answers)
        assert {(s, c) for s, c, _ in answers} == {(503, "unavailable")}, answers[:5]
        assert slowest < 6, f"slowest REST answer {slowest:.1f} s"
        # Sends are refused as unavailable, and nothing else.
        deadline = time.time() + 30
        while not sender.refused and time.time() < deadline:
            time.sleep(0.05)
        assert sender.refused and set(sender.refused.values()) == {"unavailable"}, sender.refused
        # Sockets stay open; ephemeral events still flow, on both transports.
        assert listener.request("ping", {})["ok"] and sio.connected
        typing = threading.Event()
        sio.on("typing", lambda d: typing.set())
        sender.client.send("typing", {"roomId": room, "isTyping": True})
        listener.wait_for("typing", lambda d: d.get("userId") == alice["id"])
        assert typing.wait(10), "the Socket.IO client got no typing while the database was frozen"

        os.kill(pid, signal.SIGCONT)
        frozen = False
        pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000).admin.command("ping")
        answering = time.monotonic()
        probe = Native(server.ws_url, alice["token"])
        n = 0
        while True:
            n += 1
            ack = probe.request("message:send", {"roomId": room, "text": "back", "clientId": f"back-{n}"})
            if ack["ok"]:
                break
            assert ack["error"]["code"] == "unavailable", ack
        recovered = time.monotonic() - answering
        assert recovered < 2, f"sends resumed {recovered:.1f} s after the database answered"
        acked_before = len(sender.acked)
        deadline = time.time() + 30
        while len(sender.acked) < acked_before + 50 and time.time() < deadline:
            time.sleep(0.01)
        sender.finish()
        assert len(sender.acked) >= acked_before + 50 and sender.broken is None, sender.broken
        # Every refused send retried with its clientId: stored once, acked ones unchanged.
        resend_all(server.ws_url, sender)
        docs = stored(client_for(uri)[name], room)
        by_key = assert_exactly_once(docs, [sender])
        assert all((alice["id"], cid) in by_key for cid in sender.sent)
        print(f"\nfreeze: /healthz 503 within {took:.2f} s; 200 REST calls 503, slowest {slowest:.1f} s; "
              f"{len(sender.refused)} sends refused as unavailable; sends back {recovered:.2f} s after the database answered; "
              f"{len(docs)} stored once each")
        probe.close()
        listener.close()
        sio.disconnect()
    finally:
        if frozen:
            os.kill(pid, signal.SIGCONT)
        server.stop()
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "db.sh"), "stop", db_pid], check=True, timeout=120)


def client_for(uri):
    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)


def test_sigterm_drains_and_exits_cleanly(mongo):
    client, names = mongo
    name = "t_sigterm_" + uuid.uuid4().hex[:8]
    names.append(name)
    server = launch(database_uri(), name)
    alice, bob = register(server.url, "alice"), register(server.url, "bob")
    room = group(server.url, alice, bob)
    listener = Native(server.ws_url, bob["token"])
    sender = Streamer(server.ws_url, alice, room, "t")
    sender.start()
    while len(sender.acked) < 100:
        time.sleep(0.01)

    server.process.send_signal(signal.SIGTERM)
    # A connection opened during the shutdown gets no session: the drain closes it
    # with 1001, or the listener is already gone.
    try:
        late = Native(server.ws_url, bob["token"], timeout=5, sync=False)
        outcome = close_code(late)
    except (ConnectionRefusedError, websocket.WebSocketException) as e:
        outcome = type(e).__name__
    assert outcome in (1001, "ConnectionRefusedError", "WebSocketBadStatusException", "WebSocketConnectionClosedException"), outcome
    code = server.process.wait(timeout=30)
    sender.finish()
    assert code == 0, f"exit code {code}; see {server.log}"
    # Both clients were told the server is going away.
    listener.ws.settimeout(5)
    assert sender.client.close_code == 1001, sender.broken
    assert close_code(listener) == 1001
    docs = stored(client[name], room)
    assert_exactly_once(docs, [sender])
    print(f"\nSIGTERM: {len(sender.acked)} acked, all stored once; exit 0; close 1001")


def test_port_taken_exits_with_the_reason(mongo):
    """A node whose port is already taken stops at once with the reason and a
    failing exit code. The HTTP server fails while the database client, the search
    backfill and the cluster are already running, and the service group cancels them
    without a graceful shutdown: the cluster's signal writer used to go on writing
    heartbeats to the closed client for ever, so the process never exited."""
    _, names = mongo
    name = "t_port_taken_" + uuid.uuid4().hex[:8]
    names.append(name)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    try:
        node = launch(database_uri(), name, port=holder.getsockname()[1], wait=False)
        try:
            code = node.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            node.process.kill()
            pytest.fail(f"parley did not exit with its port taken; see {node.log}")
        assert code != 0
        assert "Address already in use" in open(node.log).read()
    finally:
        holder.close()
