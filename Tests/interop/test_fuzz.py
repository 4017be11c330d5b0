"""Hostile input, generated: over 10,000 frames to `/ws` and Socket.IO (malformed
JSON, wrong types, huge numbers, deep nesting, invalid UTF-8, operator injection,
unknown events, oversized frames, control characters) and random bodies to every
REST route. The server never crashes, answers each with the contract's error, keeps
serving valid traffic in between, and the database holds only what was valid."""
import json
import os
import random
import re
import time
import uuid

import pymongo
import pytest
import requests
import websocket
from bson import ObjectId

from conftest import database_uri, launch, register_user
from native import Closed, EnginePackets, Native

SEED = int(os.environ.get("PARLEY_FUZZ_SEED", "8"))
WS_FRAMES = int(os.environ.get("PARLEY_FUZZ_FRAMES", "8000"))
SIO_PACKETS = int(os.environ.get("PARLEY_FUZZ_SIO_PACKETS", "2500"))
REST_REQUESTS = int(os.environ.get("PARLEY_FUZZ_REST", "1500"))
MAX_FRAME = 65536
ERROR_CODES = {"bad_request", "not_found", "forbidden", "too_large", "rate_limited"}
INJECTIONS = [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, {"$where": "1"}, ["$in", 1], {"$exists": True}, {"a.b": 1}]
EVENTS = ["message:send", "message:private", "message:delivered", "message:read", "room:join", "room:leave", "room:create",
          "history", "typing", "room:activity", "presence:set", "ping", "rooms:list"]
FIELDS = ["roomId", "text", "clientId", "toUserId", "seq", "status", "isTyping", "kind", "data", "name", "limit",
          "beforeSeq", "afterSeq", "historyLimit", "private", "topic", "token"]


class Junk:
    """Deterministic generators of hostile values."""

    def __init__(self, rng, ids):
        self.rng = rng
        self.ids = ids  # real ids, so some hostile frames reach deep into the handlers

    def value(self, depth=0):
        r = self.rng.random()
        choices = [
            lambda: self.rng.choice(INJECTIONS),
            lambda: self.rng.choice([0, -1, 2**31, 2**63, 2**64, 10**30, -10**30, 1e308, -1e308, 0.5]),
            lambda: self.rng.choice([None, True, False, "", " ", "\t\n", "yes"]),
            lambda: "".join(chr(self.rng.choice([0, 1, 7, 8, 11, 27, 127, 0x85, 0x2028, 0xFEFF, 0x202E])) for _ in range(self.rng.randint(1, 8))),
            lambda: self.rng.choice(self.ids),
            lambda: "x" * self.rng.choice([63, 64, 65, 4000, 4001, 20000]),
            lambda: "🙂" * self.rng.choice([1, 2000, 4001]),
            lambda: [self.value(depth + 1) for _ in range(self.rng.randint(0, 3))] if depth < 4 else [],
            lambda: {self.rng.choice(FIELDS + ["$set", "__proto__", ""]): self.value(depth + 1)} if depth < 4 else {},
        ]
        return choices[int(r * len(choices))]()

    def nested(self):
        depth = self.rng.choice([100, 1000, 5000])
        return "[" * depth + "]" * depth if self.rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth

    def frame(self, rid):
        """(payload, kind): kind says how the server must answer it."""
        r = self.rng.random()
        if r < 0.12:  # not JSON at all, or broken JSON
            return self.rng.choice(['{"type":', "{", "}", "[]", "null", "42", '"x"', "{'type': 'ping'}",
                                    "\x00\x01", "\\u0000", "{" * 30, '{"type":"ping","id":' + "9" * 400 + "}"]), "error"
        if r < 0.17:
            return '{"type":"ping","id":"' + rid + '","data":' + self.nested() + "}", "ack"
        if r < 0.21:  # oversized
            return json.dumps({"type": "message:send", "id": rid, "data": {"text": "x" * (MAX_FRAME + 10)}}), "close-1009"
        if r < 0.24:
            return b'{"type":"ping","id":"' + bytes([0xC3, 0x28, 0xFF, 0xFE]) + b'"}', "close-1007"
        frame = {"type": self.rng.choice(EVENTS + ["", "unknown:event", "MESSAGE:SEND", "message:send ", "$where", 7]), "id": rid}
        data = {}
        for field in self.rng.sample(FIELDS, self.rng.randint(0, 5)):
            data[field] = self.value()
        frame["data"] = data if self.rng.random() < 0.9 else self.value()
        return json.dumps(frame), "ack"


def event_type(payload):
    """The `type` of a generated frame (frames nested too deep for Python's parser
    have the type `ping`)."""
    if payload.count("[") + payload.count("{") > 500:
        return "ping"
    return json.loads(payload).get("type")


def valid_send(room, n):
    cid = f"valid-{n}"
    return cid, json.dumps({"type": "message:send", "id": f"v{n}", "data": {"roomId": room, "text": f"valid {n}", "clientId": cid}})


@pytest.fixture(scope="module")
def fuzz_server():
    name = "t_fuzz_" + uuid.uuid4().hex[:8]
    server = launch(database_uri(), name, RATE_LIMIT_MESSAGES_PER_SECOND=100000, RATE_LIMIT_BURST=100000,
                    EVENT_RATE_LIMIT_PER_SECOND=100000, SOCKETIO_PING_INTERVAL_MS=5000, SOCKETIO_PING_TIMEOUT_MS=5000)
    client = pymongo.MongoClient(database_uri(), serverSelectionTimeoutMS=5000)
    yield server, client[name]
    code = server.stop()
    client.drop_database(name)
    assert code == 0, f"the server did not shut down cleanly ({code}); see {server.log}"


def users_and_room(server):
    fuzzer, bystander = register_user(server.url, "fuzzer"), register_user(server.url, "bystander")
    (token, me), (other_token, other) = (fuzzer["token"], fuzzer["id"]), (bystander["token"], bystander["id"])
    room = requests.post(server.url + "/api/rooms", json={"name": "fuzz"}, headers={"Authorization": "Bearer " + token}, timeout=10).json()["room"]["id"]
    private = requests.post(server.url + "/api/rooms", json={"name": "closed", "private": True},
                            headers={"Authorization": "Bearer " + other_token}, timeout=10).json()["room"]["id"]
    return token, me, other, room, private


def next_answer(client, rid):
    """The ack of `rid`, or the `error` push for a frame without a usable id."""
    return client.take(lambda f: (f["type"] == "ack" and f.get("id") == rid) or f["type"] == "error")


def test_websocket_fuzz(fuzz_server):
    server, db = fuzz_server
    token, me, other, room, private = users_and_room(server)
    junk = Junk(random.Random(SEED), [room, private, me, other, "0" * 24, "f" * 24, "not-an-id"])
    client = Native(server.ws_url, token)
    valid, answered, closes = set(), 0, {1009: 0, 1007: 0}
    for n in range(WS_FRAMES):
        rid = f"f{n}"
        payload, kind = junk.frame(rid)
        if len(payload if isinstance(payload, bytes) else payload.encode()) > MAX_FRAME:
            kind = "close-1009"
        if isinstance(payload, bytes):
            client.ws.send(payload, opcode=websocket.ABNF.OPCODE_TEXT)
        else:
            client.ws.send(payload)
        if kind.startswith("close"):
            expected = int(kind.split("-")[1])
            try:
                while True:
                    client.next()
            except Closed as e:
                assert e.code == expected, (payload[:80], e.code)
            closes[expected] += 1
            client = Native(server.ws_url, token)
            continue
        try:
            answer = next_answer(client, rid)
        except websocket.WebSocketTimeoutException:
            pytest.fail(f"no answer to frame {n}: {payload[:300]!r}")
        answered += 1
        if kind == "error":  # not a JSON object with a type: bad_request, always
            assert answer["type"] == "error" or not answer["ok"], (payload[:200], answer)
            assert answer["error"]["code"] == "bad_request", (payload[:200], answer)
        elif event_type(payload) not in EVENTS:  # unknown events
            assert answer["type"] == "error" or not answer["ok"], (payload[:200], answer)
            assert answer["error"]["code"] == "bad_request", (payload[:200], answer)
        if answer["type"] == "error" or not answer["ok"]:
            assert answer["error"]["code"] in ERROR_CODES, (payload[:200], answer)
            assert isinstance(answer["error"]["message"], str) and answer["error"]["message"]
        # Valid traffic keeps being served in between.
        if n % 50 == 0:
            cid, frame = valid_send(room, n)
            client.ws.send(frame)
            ack = next_answer(client, f"v{n}")
            if ack["type"] == "ack" and not ack["ok"] and ack["error"]["code"] == "forbidden":
                # The fuzz left the room (a valid `room:leave` by chance): join again.
                client.ws.send(json.dumps({"type": "room:join", "id": f"j{n}", "data": {"roomId": room, "historyLimit": 0}}))
                assert next_answer(client, f"j{n}")["ok"]
                client.ws.send(frame)
                ack = next_answer(client, f"v{n}")
            assert ack["type"] == "ack" and ack["ok"], ack
            valid.add(cid)
    client.close()
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert closes[1009] > 0 and closes[1007] > 0
    check_database(db, me, room, valid)
    print(f"\nws fuzz: {WS_FRAMES} frames, {answered} answered with an error or ack, {closes} closes, {len(valid)} valid sends kept")


def check_database(db, me, room, valid_client_ids):
    """Only what was valid is stored: messages are well-typed, none outside the rooms
    the fuzzer belongs to, and no stored key is an operator."""
    for doc in db.messages.find({}):
        assert isinstance(doc["text"], str) and 1 <= len(doc["text"]) <= 4000
        assert isinstance(doc["clientId"], str) and 1 <= len(doc["clientId"]) <= 64
        assert isinstance(doc["seq"], int) and doc["seq"] >= 1
        # Only the fuzzer sent, and only into rooms it belongs to.
        assert str(doc["senderId"]) == me, doc
        assert db.memberships.count_documents({"roomId": doc["roomId"], "userId": ObjectId(me)}) == 1, doc
        assert not any(k.startswith("$") for k in doc), doc
    stored_valid = {d["clientId"] for d in db.messages.find({"roomId": ObjectId(room), "clientId": {"$regex": "^valid-"}})}
    assert stored_valid == valid_client_ids
    for collection in ("users", "rooms", "memberships"):
        for doc in db[collection].find({}):
            assert not any(k.startswith("$") for k in doc), doc
    for user in db.users.find({}):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{3,32}", user["username"]), user["username"]


def test_socketio_fuzz(fuzz_server):
    server, db = fuzz_server
    token, me, other, room, private = users_and_room(server)
    rng = random.Random(SEED + 1)
    junk = Junk(rng, [room, private, me, other, "0" * 24])
    url = server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    def connect():
        ws = websocket.create_connection(url, timeout=10)
        ws.packets = EnginePackets(ws)
        assert ws.packets.take().startswith("0{")
        ws.send("40" + json.dumps({"token": token}))
        ws.packets.take(lambda p: p.startswith("40"))
        return ws

    def probe(ws, n):
        """An EVENT with an ack: the session still works. Returns False if it was closed."""
        ws.send(f"42{n}" + json.dumps(["ping", {}]))
        packet = ws.packets.take(lambda p: p.startswith(f"43{n}[") or p.startswith("41") or p == "1")
        if packet.startswith(f"43{n}["):
            assert json.loads(packet[len(f"43{n}"):])[0]["ok"] is True
            return True
        return False

    ws = connect()
    acks = closed = 0
    for n in range(SIO_PACKETS):
        r = rng.random()
        if r < 0.3:
            packet = rng.choice(["4", "42", "42[", "42{}", "42[]", "42[1]", "42[null]", "43", "44", "45", "451-", "451-[\"x\",{\"_placeholder\":true,\"num\":0}]",
                                 "46", "47", "4z", "9", "", "5", "6", "40/admin,", "42/other,[\"ping\"]", "4" + "2" * 200, "42" + "[" * 500])
        elif r < 0.9:
            event = rng.choice(EVENTS + ["unknown", "", "connect", "disconnect"])
            args = [event, junk.value()] if rng.random() < 0.8 else [junk.value(), junk.value()]
            packet = f"42{n + 100000}" + json.dumps(args)
        else:
            packet = "42" + json.dumps(["message:send", {"roomId": room, "text": "x" * (MAX_FRAME + 10), "clientId": "big"}])
        try:
            ws.send(packet)
            # Probes also answer the server's pings (every 400 ms in the tests).
            alive = probe(ws, n) if n % 10 == 0 or r >= 0.9 else None
        except (websocket.WebSocketException, ConnectionError):
            alive = False  # the server ended the session (oversized payload, ping timeout)
        if alive is not None:
            if alive:
                acks += 1
            else:
                closed += 1
                ws.close()
                ws = connect()
    ws.close()
    assert acks > 0
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    assert db.messages.count_documents({"clientId": "big"}) == 0
    # Every session the server ended, however abruptly, left the hub.
    deadline = time.time() + 15
    while open_sockets(server) > 0 and time.time() < deadline:
        time.sleep(0.2)
    assert open_sockets(server) == 0
    print(f"\nsocket.io fuzz: {SIO_PACKETS} packets, {acks} probes answered, {closed} sessions ended by the server and reopened")


def open_sockets(server):
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    return float(next(line.split()[-1] for line in metrics.splitlines() if line.startswith("parley_websocket_connections")))


REST_ROUTES = [
    ("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("GET", "/api/auth/profile"), ("POST", "/api/users"),
    ("GET", "/api/users/online"), ("GET", "/api/users/search"), ("GET", "/api/users/search/{s}"), ("GET", "/api/users/{id}"),
    ("GET", "/api/rooms"), ("POST", "/api/rooms"), ("GET", "/api/rooms/{id}"), ("POST", "/api/rooms/{id}/join"),
    ("POST", "/api/rooms/{id}/leave"), ("GET", "/api/events"), ("POST", "/api/events"), ("GET", "/api/events/{id}"),
    ("GET", "/api/messages/room/{id}"), ("GET", "/api/messages/conversation/{id}/{id}"), ("PUT", "/api/messages/read/{id}"),
    ("GET", "/api/messages/{id}/status"),
]


def test_rest_fuzz(fuzz_server):
    server, db = fuzz_server
    token, me, other, room, private = users_and_room(server)
    rng = random.Random(SEED + 2)
    junk = Junk(rng, [room, private, me, other])
    before_users = db.users.count_documents({})
    statuses = {}
    for n in range(REST_REQUESTS):
        method, path = rng.choice(REST_ROUTES)
        ident = rng.choice([room, private, me, other, "0" * 24, "zz", "%24ne", "..%2F..", "a" * 300])
        path = path.replace("{id}", ident).replace("{s}", rng.choice(["al", "%00", ".*", "%24where", "x" * 100]))
        kind = rng.random()
        headers = {"Authorization": "Bearer " + token} if rng.random() < 0.8 else {}
        if kind < 0.5:
            body, headers["Content-Type"] = json.dumps(junk.value()).encode(), "application/json"
        elif kind < 0.7:
            body = json.dumps({f: junk.value() for f in rng.sample(["username", "password", "displayName", "role", "name", "kind",
                                                                    "topic", "private", "startsAt", "endsAt", "seq"], rng.randint(1, 5))}).encode()
            headers["Content-Type"] = "application/json"
        elif kind < 0.85:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
            headers["Content-Type"] = rng.choice(["application/json", "text/plain", "application/x-www-form-urlencoded"])
        elif kind < 0.98:
            body = b"{" * rng.randint(1, 3000)
            headers["Content-Type"] = "application/json"
        else:
            body = b'{"name":"' + b"x" * (1 << 20) + b'"}'  # over MAX_BODY_BYTES
            headers["Content-Type"] = "application/json"
        query = rng.choice(["", "?limit=" + rng.choice(["-1", "0", "201", "1e3", "x", "99999999999999999999"]), "?before=" + rng.choice(["-5", "a", "1.5"]),
                            "?q=" + rng.choice(["", "%00", "%24gt", "a" * 100])])
        r = requests.request(method, server.url + path + query, data=body, headers=headers, timeout=15)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        assert r.status_code < 500, (method, path, body[:200], r.status_code, r.text[:300])
        if r.status_code >= 400:
            error = r.json()["error"]
            assert error["code"] in ERROR_CODES | {"unauthorized", "conflict", "method_not_allowed"}, r.text
    assert requests.get(server.url + "/healthz", timeout=10).status_code == 200
    for user in db.users.find({}):
        assert re.fullmatch(r"[A-Za-z0-9_.-]{3,32}", user["username"]), user["username"]
        assert user["role"] in ("user", "admin")
    assert db.users.count_documents({"role": "admin"}) == 0, "a fuzzed body made an admin"
    print(f"\nrest fuzz: {REST_REQUESTS} requests; statuses {dict(sorted(statuses.items()))}; users {before_users} -> {db.users.count_documents({})}")
