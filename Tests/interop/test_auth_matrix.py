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
