"""Interop with the stock Python Socket.IO client (python-socketio), over
WebSocket and over polling with the upgrade, against a real parley."""
import json
import threading
import time
import uuid

import pymongo
import pytest
import socketio
import websocket

from conftest import Server, database_uri, launch
from native import Native as NativeClient

TRANSPORTS = [pytest.param(["websocket"], id="websocket"), pytest.param(["polling", "websocket"], id="polling+upgrade")]


class Recorder:
    """A socketio.Client that records every event it receives."""

    def __init__(self, server, token, transports):
        self.events = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)

        @self.sio.on("*")
        def any_event(event, data=None):
            with self.cond:
                self.events.append((event, data))
                self.cond.notify_all()

        self.sio.connect(server.url, auth={"token": token}, transports=transports, wait_timeout=10)

    def wait_for(self, event, match=lambda d: True, timeout=10):
        """The first unread event named `event` that matches; taken out, every other
        event left unread."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i, (name, data) in enumerate(self.events):
                    if name == event and match(data):
                        del self.events[i]  # only this one: the others stay for later waits
                        return data
                left = deadline - time.time()
                assert left > 0, f"no {event} within {timeout}s; got {[e for e, _ in self.events]}"
                self.cond.wait(left)

    def sync(self):
        """Waits for sync:done; returns the messages flushed before it."""
        self.wait_for("ready")
        flushed = []
        deadline = time.time() + 10
        while time.time() < deadline:
            with self.cond:
                for i, (name, data) in enumerate(self.events):
                    if name == "sync:done":
                        flushed = [d["message"] for n, d in self.events[:i] if n == "message:new"]
                        # The flush and sync:done are taken; other events stay unread.
                        self.events = [e for j, e in enumerate(self.events) if j > i or (j < i and e[0] != "message:new")]
                        return flushed
                self.cond.wait(0.2)
        raise AssertionError("no sync:done")

    def call(self, event, data):
        return self.sio.call(event, data, timeout=10)

    def close(self):
        self.sio.disconnect()


def Native(server, token):
    """A /ws client (the native protocol), for cross-transport checks, past `sync:done`."""
    return NativeClient(server.ws_url, token)


@pytest.mark.parametrize("transports", TRANSPORTS)
def test_connect_join_send_with_ack(server, transports):
    alice = server.register("alice")
    client = Recorder(server, alice["token"], transports)
    try:
        client.sync()
        assert client.sio.transport() == "websocket"
        created = client.call("room:create", {"name": "sio"})
        assert created["ok"] is True
        room = created["data"]["room"]["id"]
        joined = client.call("room:join", {"roomId": room})
        assert joined["ok"] and joined["data"]["room"]["id"] == room and joined["data"]["history"] == []
        ack = client.call("message:send", {"roomId": room, "text": "hello", "clientId": "c1"})
        assert ack["ok"] and ack["data"]["message"]["seq"] == 1 and ack["data"]["message"]["text"] == "hello"
        again = client.call("message:send", {"roomId": room, "text": "hello", "clientId": "c1"})
        assert again["data"]["message"]["id"] == ack["data"]["message"]["id"]
        bad = client.call("message:send", {"roomId": room, "text": {"$gt": ""}, "clientId": "c2"})
        assert bad == {"ok": False, "error": {"code": "bad_request", "message": bad["error"]["message"]}}
        unknown = client.call("no:such:event", {})
        assert unknown["ok"] is False and unknown["error"]["code"] == "bad_request"
    finally:
        client.close()


@pytest.mark.parametrize("transports", TRANSPORTS)
def test_bad_token_is_refused(server, transports):
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(server.url, auth={"token": "not-a-token"}, transports=transports, wait_timeout=5)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(server.url, transports=transports, wait_timeout=5)


@pytest.mark.parametrize("transports", TRANSPORTS)
def test_pushes_between_socketio_and_native(server, transports):
    alice, bob = server.register("alice"), server.register("bob")
    room = server.create_room(alice["token"])
    server.join(bob["token"], room)
    sio = Recorder(server, alice["token"], transports)
    native = Native(server, bob["token"])
    try:
        sio.sync()
        # Native to Socket.IO.
        assert native.request("message:send", {"roomId": room, "text": "from ws", "clientId": "n1"})["ok"]
        assert sio.wait_for("message:new")["message"]["text"] == "from ws"
        # Socket.IO to native.
        assert sio.call("message:send", {"roomId": room, "text": "from sio", "clientId": "s1"})["ok"]
        assert native.wait_for("message:new")["data"]["message"]["text"] == "from sio"
        # Typing and room activity, both ways.
        assert sio.call("typing", {"roomId": room, "isTyping": True})["ok"]
        typing = native.wait_for("typing")["data"]
        assert typing["userId"] == alice["id"] and typing["isTyping"] is True
        assert native.request("room:activity", {"roomId": room, "kind": "click", "data": {"item": 3}})["ok"]
        activity = sio.wait_for("room:activity")
        assert activity["kind"] == "click" and activity["data"] == {"item": 3} and activity["userId"] == bob["id"]
        # Reading pushes message:status to the room.
        assert native.request("message:read", {"roomId": room, "seq": 2})["ok"]
        status = sio.wait_for("message:status", lambda d: d["userId"] == bob["id"])
        assert status["readSeq"] == 2
    finally:
        sio.close()
        native.close()


@pytest.mark.parametrize("transports", TRANSPORTS)
def test_offline_flush_on_reconnect(server, transports):
    alice, bob = server.register("alice"), server.register("bob")
    room = server.create_room(alice["token"])
    server.join(bob["token"], room)
    native = Native(server, alice["token"])
    for i in range(1, 4):
        assert native.request("message:send", {"roomId": room, "text": f"m{i}", "clientId": f"c{i}"})["ok"]
    bob_client = Recorder(server, bob["token"], transports)
    try:
        flushed = bob_client.sync()
        assert [m["text"] for m in flushed] == ["m1", "m2", "m3"]
        assert bob_client.call("message:delivered", {"roomId": room, "seq": 3})["ok"]
    finally:
        bob_client.close()
    again = Recorder(server, bob["token"], transports)
    try:
        assert again.sync() == []
    finally:
        again.close()
        native.close()


@pytest.fixture(scope="module")
def small_queue_server():
    """A server whose outbound queue holds its minimum, 1,024 frames, with the send
    rate opened up: a flush of more than that must wait for the client."""
    uri = database_uri()
    database = "t_interop_q_" + uuid.uuid4().hex[:10]
    handle = launch(uri, database, OUTBOUND_QUEUE_FRAMES=1024, RATE_LIMIT_MESSAGES_PER_SECOND=100000, RATE_LIMIT_BURST=100000)
    yield Server(handle.url, handle.ws_url, database)
    handle.stop()
    pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)


@pytest.mark.parametrize("transports", TRANSPORTS)
def test_offline_flush_longer_than_the_queue_arrives_whole(small_queue_server, transports):
    """2,500 missed messages through a 1,024-frame queue: the transport drains the
    connection's queue as the client reads, so the flush waits for the client and
    every message arrives, once, on a socket that stays up. (python-socketio runs
    each packet's handler on a thread of its own, so the order its handlers see is
    not the order on the wire: the set is checked here, not the order.)"""
    server = small_queue_server
    alice, bob = server.register("alice"), server.register("bob")
    room = server.create_room(alice["token"])
    server.join(bob["token"], room)
    native = Native(server, alice["token"])
    count = 2500
    for i in range(count):
        native.send("message:send", {"roomId": room, "text": f"q{i}", "clientId": f"q{i}"}, rid=f"q{i}" if i % 100 == 99 else None)
        if i % 100 == 99:
            assert native.ack(f"q{i}")["ok"]
    native.close()
    client = Recorder(server, bob["token"], transports)
    try:
        flushed = client.sync()
        assert sorted(m["seq"] for m in flushed) == list(range(1, count + 1))
        assert {m["text"] for m in flushed} == {f"q{i}" for i in range(count)}
        assert client.sio.connected and client.call("ping", {})["ok"]
    finally:
        client.close()


def test_one_user_on_both_transports_gets_every_push(server):
    alice, bob = server.register("alice"), server.register("bob")
    room = server.create_room(alice["token"])
    server.join(bob["token"], room)
    sio = Recorder(server, bob["token"], ["websocket"])
    native_bob = Native(server, bob["token"])
    native_alice = Native(server, alice["token"])
    try:
        sio.sync()
        assert native_alice.request("message:send", {"roomId": room, "text": "both", "clientId": "b1"})["ok"]
        assert sio.wait_for("message:new")["message"]["text"] == "both"
        assert native_bob.wait_for("message:new")["data"]["message"]["text"] == "both"
    finally:
        sio.close()
        native_bob.close()
        native_alice.close()


def test_pings_keep_the_session_alive(server):
    """The server pings every 400 ms here; the client answers, and the session
    outlives many intervals."""
    alice = server.register("alice")
    client = Recorder(server, alice["token"], ["polling", "websocket"])
    try:
        client.sync()
        time.sleep(2.5)
        assert client.sio.connected
        assert client.call("ping", {})["ok"]
    finally:
        client.close()
