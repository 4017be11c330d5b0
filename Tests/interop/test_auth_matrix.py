"""The authentication and authorization matrix: for every REST route and socket
event, the answer for no token, a bad signature, an expired token, `alg: none`, a
disabled user, a non-member, a member and an admin (who is not a member: being an
admin opens user administration, never other people's private rooms)."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid

import pytest
import requests
import websocket

from conftest import JWT_SECRET, ROOT
from native import Closed, EnginePackets, Native

BAD = ["none", "bad_signature", "expired", "alg_none", "disabled"]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt(claims, secret=JWT_SECRET, alg="HS256"):
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    if alg == "none":
        return f"{header}.{body}."
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"


def parleyctl(server_env, *args, stdin=None):
    binary = os.path.join(os.path.dirname(os.environ.get("PARLEY_BINARY", os.path.join(ROOT, ".build", "debug", "parley"))), "parleyctl")
    run = subprocess.run([binary, *args], input=stdin, capture_output=True, text=True, env=server_env, timeout=60)
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def world(server):
    """Users of every kind, a private room and a public room of the member, and a
    message in each; tokens of every bad kind."""
    env = dict(os.environ, MONGODB_DATABASE=server.database, BCRYPT_COST="4")
    member, stranger = server.register("member"), server.register("stranger")
    admin_name, disabled_name = f"admin_{uuid.uuid4().hex[:6]}", f"gone_{uuid.uuid4().hex[:6]}"
    parleyctl(env, "user", "create", admin_name, "--role", "admin", "--password-stdin", stdin="a-long-password\n")
    parleyctl(env, "user", "create", disabled_name, "--password-stdin", stdin="a-long-password\n")
    login = lambda name: requests.post(server.url + "/api/auth/login", json={"username": name, "password": "a-long-password"}, timeout=10).json()
    admin = {"token": login(admin_name)["token"], "id": login(admin_name)["user"]["id"]}
    gone = login(disabled_name)
    parleyctl(env, "user", "disable", disabled_name)

    headers = {"Authorization": "Bearer " + member["token"]}
    private = requests.post(server.url + "/api/rooms", json={"name": "secret", "private": True}, headers=headers, timeout=10).json()["room"]["id"]
    public = requests.post(server.url + "/api/rooms", json={"name": "open"}, headers=headers, timeout=10).json()["room"]["id"]
    spare = requests.post(server.url + "/api/rooms", json={"name": "to leave"}, headers=headers, timeout=10).json()["room"]["id"]
    client = Native(server.ws_url, member["token"])
    messages = {room: client.request("message:send", {"roomId": room, "text": "hello", "clientId": f"m-{room}"})["data"]["message"]["id"]
                for room in (private, public)}
    client.close()
    now = int(time.time())
    tokens = {
        "none": None,
        "bad_signature": jwt({"sub": member["id"], "iat": now, "exp": now + 600}, secret="not-the-secret-not-the-secret-00"),
        "expired": jwt({"sub": member["id"], "iat": now - 7200, "exp": now - 3600}),
        "alg_none": jwt({"sub": member["id"], "iat": now, "exp": now + 600}, alg="none"),
        "disabled": gone["token"],
        "non_member": stranger["token"],
        "member": member["token"],
        "admin": admin["token"],
    }
    return {"tokens": tokens, "private": private, "public": public, "spare": spare, "messages": messages,
            "member": member["id"], "stranger": stranger["id"], "admin": admin["id"]}


# (method, path, body, expected by identity). Paths use {private}, {public},
# {pmsg} (a message in the private room), {member}, {stranger}; "bad" is the answer
# for each of BAD. The identities are: non_member, member, admin.
REST = [
    ("GET", "/api/auth/profile", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("GET", "/api/users/online", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("GET", "/api/users/search?q=a", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("GET", "/api/users/search/a", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("GET", "/api/users/{member}", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("POST", "/api/users", "new_user", {"bad": 401, "non_member": 403, "member": 403, "admin": 201}),
    ("GET", "/api/rooms", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("POST", "/api/rooms", {"name": "r"}, {"bad": 401, "non_member": 201, "member": 201, "admin": 201}),
    ("GET", "/api/rooms/{private}", None, {"bad": 401, "non_member": 404, "member": 200, "admin": 404}),
    ("GET", "/api/rooms/{public}", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("POST", "/api/rooms/{private}/join", None, {"bad": 401, "non_member": 404, "member": 200, "admin": 404}),
    ("GET", "/api/events", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
    ("POST", "/api/events", {"name": "e"}, {"bad": 401, "non_member": 201, "member": 201, "admin": 201}),
    ("GET", "/api/events/{private}", None, {"bad": 401, "non_member": 404, "member": 404, "admin": 404}),
    ("GET", "/api/messages/room/{private}", None, {"bad": 401, "non_member": 404, "member": 200, "admin": 404}),
    ("GET", "/api/messages/room/{public}", None, {"bad": 401, "non_member": 403, "member": 200, "admin": 403}),
    ("GET", "/api/messages/conversation/{member}/{stranger}", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 403}),
    ("PUT", "/api/messages/read/{private}", {}, {"bad": 401, "non_member": 404, "member": 200, "admin": 404}),
    ("PUT", "/api/messages/read/{public}", {}, {"bad": 401, "non_member": 403, "member": 200, "admin": 403}),
    ("GET", "/api/messages/{pmsg}/status", None, {"bad": 401, "non_member": 404, "member": 200, "admin": 404}),
    ("POST", "/api/rooms/{spare}/leave", None, {"bad": 401, "non_member": 200, "member": 200, "admin": 200}),
]


def fill(path, world):
    return path.format(private=world["private"], public=world["public"], spare=world["spare"], pmsg=world["messages"][world["private"]],
                       member=world["member"], stranger=world["stranger"])


@pytest.mark.parametrize("method,path,body,expected", REST, ids=[f"{m} {p}" for m, p, _, _ in REST])
def test_rest_matrix(server, world, method, path, body, expected):
    answers = {}
    for identity, token in world["tokens"].items():
        headers = {"Authorization": "Bearer " + token} if token else {}
        payload = body
        if body == "new_user":
            payload = {"username": f"made_{uuid.uuid4().hex[:8]}", "password": "a-long-password"}
        r = requests.request(method, server.url + fill(path, world), json=payload, headers=headers, timeout=10)
        answers[identity] = r.status_code
        if r.status_code >= 400:
            assert r.json()["error"]["code"], r.text
    want = {i: expected["bad"] if i in BAD else expected[i] for i in world["tokens"]}
    assert answers == want


def test_public_routes_ignore_tokens(server, world):
    """Register and login are open to everyone; a disabled user cannot log in (403)."""
    for token in world["tokens"].values():
        headers = {"Authorization": "Bearer " + token} if token else {}
        r = requests.post(server.url + "/api/auth/register", json={"username": f"p_{uuid.uuid4().hex[:8]}", "password": "a-long-password"},
                          headers=headers, timeout=10)
        assert r.status_code == 201
    for path in ("/healthz", "/metrics", "/openapi.yaml", "/"):
        assert requests.get(server.url + path, timeout=10).status_code == 200


@pytest.mark.parametrize("identity", BAD)
def test_socket_refuses_bad_tokens(server, world, identity):
    """Every bad token, over the header, the query and the auth frame, is 4401;
    Socket.IO answers CONNECT_ERROR."""
    token = world["tokens"][identity]
    if token is None:
        client = Native(server.ws_url, None, sync=False)
        client.send("auth", {})
        with pytest.raises(Closed) as closed:
            client.wait_for("ready")
        assert closed.value.code == 4401
    else:
        for how in ("header", "query", "frame"):
            if how == "header":
                client = Native(server.ws_url, token, sync=False)
            elif how == "query":
                client = Native(server.ws_url + "?token=" + token, None, sync=False)
            else:
                client = Native(server.ws_url, None, sync=False)
                client.ws.send(json.dumps({"type": "auth", "token": token}))
            with pytest.raises(Closed) as closed:
                client.wait_for("ready")
            assert closed.value.code == 4401, how
    sio = websocket.create_connection(server.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket", timeout=10)
    packets = EnginePackets(sio)
    assert packets.take().startswith("0")
    sio.send("40" + json.dumps({"token": token} if token else {}))
    packet = packets.take()
    assert packet.startswith("44"), packet
    sio.close()


# (event, data, expected by identity): "ok" or the error code.
SOCKET = [
    ("message:send", lambda w: {"roomId": w["private"], "text": "hi", "clientId": uuid.uuid4().hex}, {"non_member": "not_found", "member": "ok", "admin": "not_found"}),
    ("message:send", lambda w: {"roomId": w["public"], "text": "hi", "clientId": uuid.uuid4().hex}, {"non_member": "forbidden", "member": "ok", "admin": "forbidden"}),
    ("history", lambda w: {"roomId": w["private"]}, {"non_member": "not_found", "member": "ok", "admin": "not_found"}),
    ("history", lambda w: {"roomId": w["public"]}, {"non_member": "forbidden", "member": "ok", "admin": "forbidden"}),
    ("message:delivered", lambda w: {"roomId": w["private"], "seq": 1}, {"non_member": "not_found", "member": "ok", "admin": "not_found"}),
    ("message:read", lambda w: {"roomId": w["public"], "seq": 1}, {"non_member": "forbidden", "member": "ok", "admin": "forbidden"}),
    ("typing", lambda w: {"roomId": w["private"], "isTyping": True}, {"non_member": "not_found", "member": "ok", "admin": "not_found"}),
    ("room:activity", lambda w: {"roomId": w["public"], "kind": "click", "data": {"item": 1}}, {"non_member": "forbidden", "member": "ok", "admin": "forbidden"}),
    ("room:join", lambda w: {"roomId": w["private"], "historyLimit": 0}, {"non_member": "not_found", "member": "ok", "admin": "not_found"}),
    ("message:private", lambda w: {"toUserId": w["member"], "text": "hi", "clientId": uuid.uuid4().hex}, {"non_member": "ok", "member": "bad_request", "admin": "ok"}),
    ("presence:set", lambda w: {"status": "away"}, {"non_member": "ok", "member": "ok", "admin": "ok"}),
    ("room:create", lambda w: {"name": "mine"}, {"non_member": "ok", "member": "ok", "admin": "ok"}),
    ("ping", lambda w: {}, {"non_member": "ok", "member": "ok", "admin": "ok"}),
    ("rooms:list", lambda w: {}, {"non_member": "ok", "member": "ok", "admin": "ok"}),
    # Leaving a visible room one is not in is harmless ({}), as over REST.
    ("room:leave", lambda w: {"roomId": w["spare"]}, {"non_member": "ok", "member": "ok", "admin": "ok"}),
    ("room:leave", lambda w: {"roomId": w["private"]}, {"non_member": "not_found", "admin": "not_found"}),
]


@pytest.mark.parametrize("event,data,expected", SOCKET, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(SOCKET)])
def test_socket_matrix(server, world, event, data, expected):
    answers = {}
    # The identities the row names: the private room's leave row leaves out the member,
    # whom the other rows need inside it.
    for identity in expected:
        client = Native(server.ws_url, world["tokens"][identity])
        ack = client.request(event, data(world))
        answers[identity] = "ok" if ack["ok"] else ack["error"]["code"]
        client.close()
    assert answers == expected


# ---------------------------------------------------------------------------
# Rooms people can run: every management route and event, answered for each role
# of a room: no token (and every bad token), a non-member, a member, a moderator,
# an owner, an admin (not a member: admins manage and delete any room but never
# read a private room's content), a banned user and a muted member.

ROLES = ["non_member", "member", "moderator", "owner", "admin", "banned", "muted"]


def api(server, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    r = requests.request(method, server.url + path, json=body, headers=headers, timeout=10)
    return r


def cast_room(server, people, private=True):
    """A room with the cast in their roles: the owner made it with the moderator, the
    member and the muted member; the banned user is banned from it."""
    owner = people["owner"]["token"]
    ids = [people[r]["id"] for r in ("moderator", "member", "muted")]
    room = api(server, "POST", "/api/rooms", owner, {"name": "cast", "private": private, "memberIds": ids}).json()["room"]["id"]
    assert api(server, "PUT", f"/api/rooms/{room}/members/{people['moderator']['id']}/role", owner, {"role": "moderator"}).status_code == 200
    assert api(server, "POST", f"/api/rooms/{room}/mutes", owner, {"userId": people["muted"]["id"]}).status_code == 200
    assert api(server, "POST", f"/api/rooms/{room}/bans", owner, {"userId": people["banned"]["id"]}).status_code == 200
    return room


@pytest.fixture(scope="module")
def cast(server, world):
    people = {r: server.register(r[:6]) for r in ("non_member", "member", "moderator", "owner", "banned", "muted")}
    people["admin"] = {"token": world["tokens"]["admin"], "id": world["admin"]}
    spare = {f"spare{i}": server.register(f"spare{i}") for i in range(3)}
    room = cast_room(server, people)
    up = requests.post(server.url + "/api/uploads?name=crew.txt", data=b"crew notes\n", timeout=10,
                       headers={"Authorization": "Bearer " + people["owner"]["token"], "Content-Type": "text/plain"})
    assert up.status_code == 201, up.text
    upload = up.json()["upload"]["id"]
    r = api(server, "POST", f"/api/rooms/{room}/messages", people["owner"]["token"], {"text": "hello crew", "clientId": "cast-1", "attachments": [upload]})
    assert r.status_code == 201, r.text
    return {"people": people, "room": room, "spare": spare, "message": r.json()["message"]["id"], "upload": upload}


def identities(cast, world):
    tokens = {i: world["tokens"][i] for i in BAD}
    tokens.update({r: cast["people"][r]["token"] for r in ROLES})
    return tokens


A = {"bad": 401, "non_member": 404, "banned": 404}  # a private room hides itself from outsiders

# (method, path, body, expected): paths use {room}, {member}, {muted}, {spare0..2},
# {invite}; bodies are made from the cast; `fresh` rows run each identity on a room of its own (they change it).
ROOM_REST = [
    ("GET", "/api/rooms/{room}/members", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 200, "muted": 200}),
    ("POST", "/api/rooms/{room}/members", lambda c: {"userIds": [c["spare"]["spare0"]["id"]]}, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("DELETE", "/api/rooms/{room}/members/{spare1}", None, {**A, "member": 403, "moderator": 404, "owner": 404, "admin": 404, "muted": 403}),
    ("PUT", "/api/rooms/{room}/members/{member}/role", lambda c: {"role": "member"}, {**A, "member": 403, "moderator": 403, "owner": 200, "admin": 200, "muted": 403}),
    ("POST", "/api/rooms/{room}/bans", lambda c: {"userId": c["spare"]["spare2"]["id"]}, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("GET", "/api/rooms/{room}/bans", None, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("DELETE", "/api/rooms/{room}/bans/{spare1}", None, {**A, "member": 403, "moderator": 404, "owner": 404, "admin": 404, "muted": 403}),
    ("POST", "/api/rooms/{room}/mutes", lambda c: {"userId": c["people"]["muted"]["id"]}, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("DELETE", "/api/rooms/{room}/mutes/{spare1}", None, {**A, "member": 403, "moderator": 404, "owner": 404, "admin": 404, "muted": 403}),
    ("POST", "/api/rooms/{room}/invites", lambda c: {}, {**A, "member": 403, "moderator": 201, "owner": 201, "admin": 201, "muted": 403}),
    ("GET", "/api/rooms/{room}/invites", None, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("PATCH", "/api/rooms/{room}", lambda c: {"name": "cast"}, {**A, "member": 403, "moderator": 200, "owner": 200, "admin": 200, "muted": 403}),
    ("PATCH", "/api/rooms/{room}", lambda c: {"private": True}, {**A, "member": 403, "moderator": 403, "owner": 200, "admin": 200, "muted": 403}),
    ("GET", "/api/rooms/{room}/audit", None, {**A, "member": 403, "moderator": 403, "owner": 200, "admin": 200, "muted": 403}),
    ("GET", "/api/messages/room/{room}", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 200}),
    # Messages (contract v2): the owner's message {msg} in the room.
    ("POST", "/api/rooms/{room}/messages", lambda c: {"text": "hi", "clientId": uuid.uuid4().hex},
     {**A, "member": 201, "moderator": 201, "owner": 201, "admin": 404, "muted": 403}),
    ("GET", "/api/rooms/{room}/pins", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 200}),
    ("GET", "/api/messages/search?q=hello&roomId={room}", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 200}),
    # A file the owner's message carries: its room's members read it; everyone else 404 (never 403).
    ("GET", "/api/uploads/{upload}", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 200}),
    ("GET", "/api/messages/{msg}/thread", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 200}),
    ("PATCH", "/api/messages/{msg}", lambda c: {"text": "hello crew"}, {**A, "member": 403, "moderator": 403, "owner": 200, "admin": 404, "muted": 403}),
    ("PUT", "/api/messages/{msg}/reactions/%F0%9F%91%8D", None, {**A, "member": 200, "moderator": 200, "owner": 200, "admin": 404, "muted": 403}),
    ("DELETE", "/api/messages/{msg}", None, {**A, "member": 403, "moderator": 204, "owner": 204, "admin": 204, "muted": 403}),
    ("DELETE", "/api/rooms/{room}", "fresh", {**A, "member": 403, "moderator": 403, "owner": 204, "admin": 204, "muted": 403}),
    ("POST", "/api/invites/{invite}/accept", "fresh", {"bad": 401, "non_member": 200, "member": 200, "moderator": 200, "owner": 200, "admin": 200,
                                                        "banned": 403, "muted": 200}),
    ("POST", "/api/rooms/{room}/join", "fresh_public", {"bad": 401, "non_member": 200, "member": 200, "moderator": 200, "owner": 200, "admin": 200,
                                                         "banned": 403, "muted": 200}),
]


def fill_cast(text, cast, room, invite=None):
    people, spare = cast["people"], cast["spare"]
    return text.format(room=room, member=people["member"]["id"], muted=people["muted"]["id"], invite=invite, msg=cast["message"], upload=cast["upload"],
                       **{k: v["id"] for k, v in spare.items()})


@pytest.mark.parametrize("method,path,body,expected", ROOM_REST, ids=[f"{m} {p} {i}" for i, (m, p, _, _) in enumerate(ROOM_REST)])
def test_room_rest_matrix(server, world, cast, method, path, body, expected):
    answers = {}
    for identity, token in identities(cast, world).items():
        room, invite, payload = cast["room"], None, body
        if body in ("fresh", "fresh_public"):
            room, payload = cast_room(server, cast["people"], private=body == "fresh"), None
            invite = api(server, "POST", f"/api/rooms/{room}/invites", cast["people"]["owner"]["token"], {}).json()["invite"]["code"]
        elif callable(body):
            payload = body(cast)
        r = api(server, method, fill_cast(path, cast, room, invite), token, payload)
        answers[identity] = r.status_code
        if r.status_code >= 400:
            assert r.json()["error"]["code"], r.text
    want = {i: expected["bad"] if i in BAD else expected[i] for i in identities(cast, world)}
    assert answers == want


# (event, data, expected by identity): "ok" or the error code. Every event of the
# room API over the socket, plus what a ban and a mute do to sends and typing.
ROOM_SOCKET = [
    ("room:members", lambda c, r: {"roomId": r}, {"non_member": "not_found", "member": "ok", "moderator": "ok", "owner": "ok", "admin": "ok",
                                                 "banned": "not_found", "muted": "ok"}),
    ("room:members:add", lambda c, r: {"roomId": r, "userIds": [c["spare"]["spare0"]["id"]]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "ok", "owner": "ok", "admin": "ok", "banned": "not_found", "muted": "forbidden"}),
    ("room:members:remove", lambda c, r: {"roomId": r, "userId": c["spare"]["spare1"]["id"]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "not_found", "owner": "not_found", "admin": "not_found", "banned": "not_found",
      "muted": "forbidden"}),
    ("room:role", lambda c, r: {"roomId": r, "userId": c["people"]["member"]["id"], "role": "member"},
     {"non_member": "not_found", "member": "forbidden", "moderator": "forbidden", "owner": "ok", "admin": "ok", "banned": "not_found", "muted": "forbidden"}),
    ("room:ban", lambda c, r: {"roomId": r, "userId": c["spare"]["spare2"]["id"]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "ok", "owner": "ok", "admin": "ok", "banned": "not_found", "muted": "forbidden"}),
    ("room:unban", lambda c, r: {"roomId": r, "userId": c["spare"]["spare1"]["id"]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "not_found", "owner": "not_found", "admin": "not_found", "banned": "not_found",
      "muted": "forbidden"}),
    ("room:mute", lambda c, r: {"roomId": r, "userId": c["people"]["muted"]["id"]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "ok", "owner": "ok", "admin": "ok", "banned": "not_found", "muted": "forbidden"}),
    ("room:unmute", lambda c, r: {"roomId": r, "userId": c["spare"]["spare1"]["id"]},
     {"non_member": "not_found", "member": "forbidden", "moderator": "not_found", "owner": "not_found", "admin": "not_found", "banned": "not_found",
      "muted": "forbidden"}),
    ("room:update", lambda c, r: {"roomId": r, "topic": "same"},
     {"non_member": "not_found", "member": "forbidden", "moderator": "ok", "owner": "ok", "admin": "ok", "banned": "not_found", "muted": "forbidden"}),
    ("message:send", lambda c, r: {"roomId": r, "text": "hi", "clientId": uuid.uuid4().hex},
     {"non_member": "not_found", "member": "ok", "moderator": "ok", "owner": "ok", "admin": "not_found", "banned": "not_found", "muted": "forbidden"}),
    ("typing", lambda c, r: {"roomId": r, "isTyping": True},
     {"non_member": "not_found", "member": "ok", "moderator": "ok", "owner": "ok", "admin": "not_found", "banned": "not_found", "muted": "forbidden"}),
    ("room:delete", "fresh", {"non_member": "not_found", "member": "forbidden", "moderator": "forbidden", "owner": "ok", "admin": "ok",
                              "banned": "not_found", "muted": "forbidden"}),
]


@pytest.mark.parametrize("event,data,expected", ROOM_SOCKET, ids=[f"{e}-{i}" for i, (e, _, _) in enumerate(ROOM_SOCKET)])
def test_room_socket_matrix(server, world, cast, event, data, expected):
    answers = {}
    for identity in expected:
        if data == "fresh":
            room = cast_room(server, cast["people"])
            payload = {"roomId": room}
        else:
            payload = data(cast, cast["room"])
        client = Native(server.ws_url, cast["people"][identity]["token"])
        ack = client.request(event, payload)
        answers[identity] = "ok" if ack["ok"] else ack["error"]["code"]
        if identity == "muted" and event == "message:send":
            assert ack["error"].get("mutedUntil"), ack
        client.close()
    assert answers == expected
