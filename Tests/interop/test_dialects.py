"""The five Socket.IO dialects of the systems Parley replaces (`docs/DIALECTS.md`),
each driven by the real python-socketio client the way its document's example code
drives it: two users, join, send, receive, typing or sync, leave, history; messages
crossing between a dialect and `/ws`; bad payloads answered with errors; guests."""
import time
import uuid

import pymongo
import pytest
import requests

from conftest import database_uri, launch, register_user
from dialect_client import DialectClient
from native import Native

LOBBY = "0000000000000000000b0ad1"


def auth(user):
    return {"Authorization": "Bearer " + user["token"]}


def event_room(server, owner, guests=True, name="launch"):
    body = {"name": name, "kind": "event", "guestAccess": guests}
    r = requests.post(server.url + "/api/rooms", json=body, headers=auth(owner), timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["room"]["id"]


def history(server, user, room):
    r = requests.get(f"{server.url}/api/messages/room/{room}", headers=auth(user), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["messages"]


# MARK: live-event


def test_live_event_flow_with_guests_and_a_ws_member(server):
    owner = server.register("host")
    room = event_room(server, owner)
    native = Native(server.ws_url, owner["token"])
    assert native.request("room:join", {"roomId": room})["ok"]
    alice = DialectClient(server.url, "live-event")
    bob = DialectClient(server.url, "live-event")
    try:
        alice.emit("joinEvent", {"username": "Alice", "eventId": room})
        first = alice.wait_for("eventHistory")
        assert first["eventId"] == room and "Alice" in [p["username"] for p in first["participants"]]
        bob.emit("joinEvent", {"username": "Bob", "eventId": room})
        bob.wait_for("eventHistory")
        joined = alice.wait_for("userJoined", lambda d: d["username"] == "Bob")
        assert joined["eventId"] == room and joined["guest"] is True

        alice.emit("sendMessage", {"eventId": room, "message": "hello event"})
        got = bob.wait_for("newMessage")
        assert (got["username"], got["message"], got["text"], got["eventId"]) == ("Alice", "hello event", "hello event", room)
        assert alice.wait_for("newMessage")["id"] == got["id"]  # the whole event, the sender too
        assert native.wait_for("message:new")["data"]["message"]["text"] == "hello event"

        assert native.request("message:send", {"roomId": room, "text": "from ws", "clientId": "w1"})["ok"]
        assert bob.wait_for("newMessage", lambda d: d["text"] == "from ws")["username"] == owner["username"]

        bob.emit("typing", {"eventId": room, "isTyping": True})
        typing = alice.wait_for("userTyping")
        assert (typing["username"], typing["isTyping"]) == ("Bob", True)

        ended = requests.post(server.url + "/api/rooms", json={"name": "over", "kind": "event", "guestAccess": True,
                              "startsAt": "2020-01-01T10:00:00.000Z", "endsAt": "2020-01-01T12:00:00.000Z"}, headers=auth(owner), timeout=10)
        assert ended.status_code == 201, ended.text
        alice.emit("getActiveEvents")
        active = [e["id"] for e in alice.wait_for("activeEvents")["events"]]
        assert room in active and ended.json()["room"]["id"] not in active

        # A latecomer gets the history.
        carol = DialectClient(server.url, "live-event")
        carol.emit("joinEvent", {"username": "Carol", "eventId": room})
        texts = [m["message"] for m in carol.wait_for("eventHistory")["messages"]]
        assert texts == ["hello event", "from ws"]
        carol.close()

        bob.emit("leaveEvent", {"eventId": room})
        assert alice.wait_for("userLeft")["eventId"] == room
        assert [m["text"] for m in history(server, owner, room)] == ["hello event", "from ws"]
    finally:
        alice.close()
        bob.close()
        native.close()


def test_live_event_refusals(server):
    owner = server.register("host")
    closed = event_room(server, owner, guests=False)
    c = DialectClient(server.url, "live-event")
    try:
        c.emit("joinEvent", {"username": "Mallory", "eventId": closed})
        assert c.wait_for("error")["code"] == "forbidden"
        c.emit("sendMessage", {"message": "nowhere"})
        assert c.wait_for("error")["code"] == "bad_request"
        fresh = DialectClient(server.url, "live-event")
        fresh.emit("joinEvent", {"username": {"$gt": ""}, "eventId": closed})  # no name, no token
        assert fresh.wait_for("error")["code"] == "unauthorized"
        fresh.close()
        c.emit("noSuchEvent", {})
        assert c.wait_for("error")["code"] == "bad_request"
        reply = c.call("joinEvent", {"username": "Eve", "eventId": "not-an-id"})
        assert reply["error"]["code"] == "not_found"
    finally:
        c.close()


# MARK: broadcast


def test_broadcast_everyone_in_one_room(server):
    alice = DialectClient(server.url, query="dialect=broadcast")
    bob = DialectClient(server.url, "broadcast")
    member = server.register("lobby")
    try:
        bob.emit("sendMessage", {"user": "Bob", "text": "first"})  # Bob enters the lobby with his first message
        assert bob.wait_for("receiveMessage")["text"] == "first"
        server.join(member["token"], LOBBY)
        native = Native(server.ws_url, member["token"])
        alice.emit("sendMessage", {"user": "Alice", "text": "Hello!"})
        msg = bob.wait_for("receiveMessage", lambda m: m["text"] == "Hello!")
        assert (msg["user"], msg["text"]) == ("Alice", "Hello!")
        assert alice.wait_for("receiveMessage", lambda m: m["text"] == "Hello!")["id"] == msg["id"]
        assert native.wait_for("message:new")["data"]["message"]["senderName"] == "Alice"
        assert native.request("message:send", {"roomId": LOBBY, "text": "from ws", "clientId": "b1"})["ok"]
        assert alice.wait_for("receiveMessage", lambda m: m["text"] == "from ws")["user"] == member["username"]

        alice.emit("sendMessage", {"user": "Alice", "text": {"$gt": ""}})
        assert alice.wait_for("error")["code"] == "bad_request"
        alice.emit("sendMessage", {"user": "Alice", "text": "   "})
        assert alice.wait_for("error")["code"] == "bad_request"
        native.close()
    finally:
        alice.close()
        bob.close()


# MARK: collagemedia


def test_collagemedia_rooms_private_messages_typing_and_status(server):
    a, b = server.register("cm"), server.register("cm")
    ca = DialectClient(server.url, "collagemedia")
    cb = DialectClient(server.url, "collagemedia")
    try:
        ca.emit("user:login", {"token": a["token"]})
        ca.wait_for("rooms:list")
        cb.emit("user:login", {"token": b["token"]})
        assert isinstance(cb.wait_for("rooms:list"), list)

        room = ca.call("room:create", {"name": "collage"})
        assert room["name"] == "collage"
        assert cb.wait_for("rooms:new", lambda r: r["id"] == room["id"])["name"] == "collage"

        cb.emit("room:join", room["id"])  # a bare room id
        assert cb.wait_for("room:history")["roomId"] == room["id"]
        assert ca.wait_for("room:user:joined")["user"]["id"] == b["id"]
        r = requests.patch(f"{server.url}/api/rooms/{room['id']}", json={"topic": "collages"}, headers=auth(a), timeout=10)
        assert r.status_code == 200, r.text
        assert cb.wait_for("rooms:update", lambda r: r["id"] == room["id"])["topic"] == "collages"

        ca.emit("room:message", {"roomId": room["id"], "text": "hi room"})
        got = cb.wait_for("room:message:new")
        assert (got["text"], got["senderId"], got["roomId"]) == ("hi room", a["id"], room["id"])

        cb.emit("user:typing", {"roomId": room["id"], "isTyping": True})
        assert ca.wait_for("user:typing")["userId"] == b["id"]

        ca.emit("message:private", {"toUserId": b["id"], "text": "psst"})
        private = cb.wait_for("message:private")
        assert (private["text"], private["from"]) == ("psst", a["id"])
        assert ca.wait_for("message:private:sent")["id"] == private["id"]

        cb.emit("user:typing:private", {"toUserId": a["id"], "isTyping": True})
        assert ca.wait_for("user:typing:private")["userId"] == b["id"]

        cb.emit("user:status", "away")
        assert ca.wait_for("user:status:update", lambda d: d["userId"] == b["id"])["status"] == "away"

        cb.emit("room:leave", room["id"])
        assert ca.wait_for("room:user:left")["userId"] == b["id"]
        cb.close()
        assert ca.wait_for("user:offline", lambda d: d["userId"] == b["id"])["status"] == "offline"

        ca.emit("message:private", {"toUserId": "nobody", "text": "x"})
        assert ca.wait_for("error")["code"] == "not_found"
    finally:
        ca.close()
        cb.close()


# MARK: hangout


def test_hangout_rest_aliases_chat_and_sync(server):
    names = [f"hang_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    tokens = []
    for n in names:
        r = requests.post(server.url + "/auth/register", json={"username": n, "password": "a-long-password"}, timeout=10)
        assert r.status_code == 201, r.text
        r = requests.post(server.url + "/auth/login", json={"username": n, "password": "a-long-password"}, timeout=10)
        assert r.status_code == 200, r.text
        tokens.append(r.json()["token"])
    profile = requests.get(server.url + "/auth/profile", headers={"Authorization": "Bearer " + tokens[0]}, timeout=10).json()["user"]
    assert profile["username"] == names[0]
    r = requests.post(server.url + "/rooms/room", json={"name": "hangout"}, headers={"Authorization": "Bearer " + tokens[0]}, timeout=10)
    assert r.status_code == 201, r.text
    room = r.json()["room"]["id"]
    r = requests.post(server.url + "/rooms/join", json={"roomId": room}, headers={"Authorization": "Bearer " + tokens[1]}, timeout=10)
    assert r.status_code == 200 and names[1] in [p["username"] for p in r.json()["participants"]], r.text
    assert requests.post(server.url + "/rooms/join", json={"roomId": room}, timeout=10).status_code == 401

    a = DialectClient(server.url, "hangout", auth={"token": tokens[0]})
    b = DialectClient(server.url, query=f"dialect=hangout&token={tokens[1]}")
    try:
        a.emit("join_room", room)
        assert a.wait_for("user_joined")["participants"]
        b.emit("join_room", {"roomId": room})  # already a member (POST /rooms/join): its own arrival, with both there
        assert len(b.wait_for("user_joined")["participants"]) == 2
        b.emit("message", {"roomId": room, "message": "hi all"})
        assert a.wait_for("message")["text"] == "hi all"
        assert b.wait_for("message")["message"] == "hi all"
        a.emit("click_event", {"roomId": room, "productId": 7})
        assert b.wait_for("user_clicked")["productId"] == 7
        a.emit("scroll_update", {"roomId": room, "scrollY": 420})
        assert b.wait_for("scroll_updated")["scrollY"] == 420
        a.emit("page_change", {"page": 3})  # the current room
        assert b.wait_for("page_changed")["page"] == 3
        b.emit("leave_room", room)
        assert a.wait_for("user_leaved")["roomId"] == room
    finally:
        a.close()
        b.close()
    anonymous = DialectClient(server.url, "hangout")
    try:
        anonymous.emit("join_room", room)
        assert anonymous.wait_for("error")["code"] == "unauthorized"
    finally:
        anonymous.close()


# MARK: chat-backend


def test_chat_backend_rooms_private_offline_and_errors(server):
    a, b = server.register("cb"), server.register("cb")
    room = server.create_room(a["token"], "backend")
    server.join(b["token"], room)
    ca = DialectClient(server.url, "chat-backend")
    cb = DialectClient(server.url, "chat-backend")
    try:
        ca.emit("authenticate", a["token"])
        ca.wait_for("authenticated")
        cb.emit("authenticate", b["token"])
        cb.wait_for("authenticated")
        ca.emit("join_room", room)
        cb.emit("join_room", room)
        ca.emit("send_message", {"receiverId": b["id"], "message": "Hello!", "roomId": room})
        got = cb.wait_for("new_message")
        assert (got["message"], got["senderId"], got["roomId"], got["status"]) == ("Hello!", a["id"], room, "sent")
        assert ca.wait_for("new_message")["_id"] == got["_id"]

        # Private, then offline: the queue is flushed when the recipient is back.
        ca.emit("send_message", {"receiverId": b["id"], "message": "direct one"})
        direct = cb.wait_for("new_message", lambda m: m["message"] == "direct one")
        assert direct["receiverId"] == b["id"]
        cb.close()
        time.sleep(0.3)
        ca.emit("send_message", {"receiverId": b["id"], "message": "while away"})
        ca.wait_for("new_message", lambda m: m["message"] == "while away")
        cb = DialectClient(server.url, "chat-backend")
        cb.emit("authenticate", b["token"])
        back = cb.wait_for("new_message", lambda m: m["message"] == "while away")
        # Delivered is marked for the dialect's client, which never says so itself.
        deadline = time.time() + 10
        while time.time() < deadline:
            status = requests.get(f"{server.url}/api/messages/{back['id']}/status", headers=auth(a), timeout=10).json()
            if b["id"] in status["deliveredTo"]:
                break
            time.sleep(0.1)
        assert b["id"] in status["deliveredTo"], status

        # Refusals are `error` events, also when the emit has an ack callback.
        reply = ca.call("send_message", {"message": "to nobody"})
        assert reply["error"]["code"] == "bad_request"
        assert ca.wait_for("error")["code"] == "bad_request"
        ca.emit("send_message", {"roomId": room, "message": {"$ne": None}})
        assert ca.wait_for("error")["code"] == "bad_request"
        stranger = DialectClient(server.url, "chat-backend")
        stranger.emit("authenticate", a["id"])  # a bare id: not believed outside development
        assert stranger.wait_for("error")["code"] == "unauthorized"
        stranger.emit("join_room", room)
        assert stranger.wait_for("error")["code"] == "unauthorized"
        stranger.close()
    finally:
        ca.close()
        cb.close()


def test_a_retried_emit_is_stored_once(server):
    a = server.register("retry")
    room = server.create_room(a["token"], "retry")
    c = DialectClient(server.url, "chat-backend", auth={"token": a["token"]})
    try:
        c.wait_for("authenticated", timeout=0.01) if False else None
        payload = {"roomId": room, "message": "once only"}
        first = c.call("send_message", payload)
        again = c.call("send_message", payload)  # what socket.io-client's `retries` re-sends
        assert first["id"] == again["id"]
        assert [m["text"] for m in history(server, a, room)] == ["once only"]
    finally:
        c.close()


# MARK: guests


def test_guests_rules(server):
    owner = server.register("host")
    open_event = event_room(server, owner)
    group = server.create_room(owner["token"], "members only")
    r = requests.post(server.url + "/api/auth/guest", json={"displayName": "Visitor"}, timeout=10)
    assert r.status_code == 201, r.text
    guest = {"token": r.json()["token"], "id": r.json()["user"]["id"]}
    assert r.json()["user"]["guest"] is True and r.json()["user"]["displayName"] == "Visitor"
    username = r.json()["user"]["username"]
    assert requests.post(server.url + "/api/auth/login", json={"username": username, "password": ""}, timeout=10).status_code in (400, 401)
    assert requests.post(server.url + "/api/auth/guest", json={"displayName": {"$gt": ""}}, timeout=10).status_code == 400
    assert requests.post(server.url + "/api/auth/guest", json={"displayName": "  "}, timeout=10).status_code == 400

    assert requests.post(server.url + "/api/rooms", json={"name": "mine"}, headers=auth(guest), timeout=10).status_code == 403
    assert requests.post(f"{server.url}/api/rooms/{group}/join", headers=auth(guest), timeout=10).status_code == 403
    assert requests.post(f"{server.url}/api/rooms/{open_event}/join", headers=auth(guest), timeout=10).status_code == 200
    upload = requests.post(server.url + "/api/uploads?name=a.txt", data=b"hello", headers={**auth(guest), "Content-Type": "text/plain"}, timeout=10)
    assert upload.status_code == 403
    ws = Native(server.ws_url, guest["token"])
    try:
        assert ws.request("message:private", {"toUserId": owner["id"], "text": "hi", "clientId": "p1"})["error"]["code"] == "forbidden"
        assert ws.request("reaction:add", {"roomId": open_event, "messageId": "0" * 24, "emoji": "👍"})["error"]["code"] == "not_found"
        results = [ws.request("message:send", {"roomId": open_event, "text": f"m{i}", "clientId": f"g{i}"}) for i in range(8)]
        assert results[0]["ok"]
        assert "rate_limited" in [r["error"]["code"] for r in results if not r["ok"]]  # GUEST_RATE_LIMIT: 2/s, bursts of 4
    finally:
        ws.close()


# MARK: settings


def test_dialect_settings_at_start():
    uri = database_uri()
    database = "t_dialect_" + uuid.uuid4().hex[:10]
    # Believing bare user ids is refused outside development.
    refused = launch(uri, database, wait=False, DIALECT_TRUST_USER_IDS="true")
    assert refused.process.wait(timeout=30) != 0
    assert "DIALECT_TRUST_USER_IDS" in open(refused.log).read()
    dev = launch(uri, database, PARLEY_ENV="development", DIALECT_TRUST_USER_IDS="true", SOCKETIO_DIALECT="chat-backend", GUEST_ACCESS="off")
    try:
        user = register_user(dev.url, "trusted")
        c = DialectClient(dev.url)  # no dialect named: the server's SOCKETIO_DIALECT
        try:
            c.emit("authenticate", user["id"])
            assert c.wait_for("authenticated")["user"]["id"] == user["id"]
        finally:
            c.close()
        assert requests.post(dev.url + "/api/auth/guest", json={"displayName": "x"}, timeout=10).status_code == 403
        g = DialectClient(dev.url, "live-event")
        try:
            g.emit("joinEvent", {"username": "Nobody", "eventId": LOBBY})
            assert g.wait_for("error")["code"] == "unauthorized"
        finally:
            g.close()
    finally:
        dev.stop()
        pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)
