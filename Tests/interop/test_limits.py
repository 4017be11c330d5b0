"""Resource limits under floods, against a real server: one address cannot hold more
realtime connections than MAX_CONNECTIONS_PER_ADDRESS while others keep being served,
and a message flood is rate limited without growing memory or the database beyond
what was accepted, and a socket that never answers pings is closed. Memory is the
server's resident set, read from /proc."""
import time
import uuid

import pymongo
import pytest
import requests
import websocket
from bson import ObjectId

from conftest import database_uri, launch, register_user
from native import Closed, Native

LIMIT = 20


def rss_kib(process):
    with open(f"/proc/{process.pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def register(url, prefix):
    user = register_user(url, prefix)
    return user["token"], user["id"]


@pytest.fixture(scope="module")
def limited():
    name = "t_limits_" + uuid.uuid4().hex[:8]
    server = launch(database_uri(), name, MAX_CONNECTIONS_PER_ADDRESS=LIMIT, RATE_LIMIT_MESSAGES_PER_SECOND=20, RATE_LIMIT_BURST=40,
                    WS_AUTH_TIMEOUT_MS=2000)
    client = pymongo.MongoClient(database_uri(), serverSelectionTimeoutMS=5000)
    yield server, client[name]
    server.stop()
    client.drop_database(name)


def refused(make):
    """True when the server turns the connection away with 1013 (try again later)."""
    try:
        client = make()
        client.next()
    except Closed as e:
        return e.code == 1013
    return False


def test_connection_flood_from_one_address_is_bounded(limited):
    server, _ = limited
    token, _ = register(server.url, "flood")
    other_token, _ = register(server.url, "calm")
    held = [Native(server.ws_url, token) for _ in range(LIMIT)]
    before = rss_kib(server.process)
    # Past the limit, every new socket from this address is turned away, authenticated
    # or not; Engine.IO's polling handshake is 429.
    turned_away = sum(refused(lambda: Native(server.ws_url, token, sync=False)) for _ in range(200))
    turned_away += sum(refused(lambda: Native(server.ws_url, None, sync=False)) for _ in range(200))
    assert turned_away == 400
    r = requests.get(server.url + "/socket.io/?EIO=4&transport=polling", timeout=10)
    assert r.status_code == 429
    # Another address is served as usual, and the held sockets still work.
    calm = Native(server.ws_url, other_token, source="127.0.0.2")
    assert calm.request("ping", {})["ok"]
    assert held[0].request("ping", {})["ok"]
    growth = rss_kib(server.process) - before
    assert growth < 32 * 1024, f"memory grew by {growth} KiB under the flood"
    # Slots come back when sockets close.
    for c in held[:5]:
        c.close()
    reopened = False
    for _ in range(50):  # the server notices the closes as they arrive
        try:
            Native(server.ws_url, token).close()
            reopened = True
            break
        except Closed:
            pass
    assert reopened, "slots were not given back"
    for c in held[5:] + [calm]:
        c.close()
    print(f"\nconnection flood: {turned_away} sockets over the limit of {LIMIT} turned away with 1013; RSS +{growth} KiB")


def test_message_flood_is_rate_limited_with_flat_memory(limited):
    server, db = limited
    token, me = register(server.url, "spammer")
    other_token, other = register(server.url, "reader")
    auth = {"Authorization": "Bearer " + token}
    room = requests.post(server.url + "/api/rooms", json={"name": "flood"}, headers=auth, timeout=10).json()["room"]["id"]
    requests.post(f"{server.url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + other_token}, timeout=10)
    spammer = Native(server.ws_url, token)
    reader = Native(server.ws_url, other_token)
    before = rss_kib(server.process)
    total = 20000
    for i in range(total):
        spammer.send("message:send", {"roomId": room, "text": "spam " + "x" * 3000, "clientId": f"s{i}"}, f"s{i}")
    outcomes = {}
    while sum(outcomes.values()) < total:
        frame = spammer.take(lambda f: f["type"] == "ack")
        key = "ok" if frame["ok"] else frame["error"]["code"]
        outcomes[key] = outcomes.get(key, 0) + 1
    assert set(outcomes) <= {"ok", "rate_limited"}, outcomes
    assert outcomes["rate_limited"] > total * 0.9
    # The other user is served as usual, and the database holds exactly what was acked.
    reply = reader.request("message:send", {"roomId": room, "text": "still here", "clientId": "calm"})
    assert reply["ok"], reply
    assert db.messages.count_documents({"senderId": ObjectId(me)}) == outcomes["ok"]
    growth = rss_kib(server.process) - before
    assert growth < 64 * 1024, f"memory grew by {growth} KiB under the flood"
    spammer.close()
    reader.close()
    print(f"\nmessage flood: {total} sends, {outcomes}; RSS +{growth} KiB")


def test_sockets_that_never_answer_pings_are_closed():
    """The server pings every WS_PING_INTERVAL_MS; a socket that has not answered one
    ping by the next is closed with 1001, so dead peers do not hold connections. A
    client that answers (websocket-client does when it reads) stays."""
    name = "t_pings_" + uuid.uuid4().hex[:8]
    server = launch(database_uri(), name, WS_PING_INTERVAL_MS=300)
    try:
        token, _ = register(server.url, "pinged")
        answering = Native(server.ws_url, token)
        silent = websocket.create_connection(server.ws_url, header=[f"Authorization: Bearer {token}"], timeout=10)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # five intervals; each request reads (and answers) pings
            assert answering.request("ping", {})["ok"]
            time.sleep(0.1)
        # The silent socket's frames waited in the kernel: ready, sync:done, a ping, then the close.
        opcodes, code = [], None
        while code is None:
            frame = silent.recv_frame()
            opcodes.append(frame.opcode)
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(frame.data[:2], "big")
        assert websocket.ABNF.OPCODE_PING in opcodes and code == 1001, (opcodes, code)
        assert answering.request("ping", {})["ok"]
        answering.close()
        silent.close()
    finally:
        server.stop()
        pymongo.MongoClient(database_uri(), serverSelectionTimeoutMS=5000).drop_database(name)


class SocketIOSocket:
    """A Socket.IO client over the WebSocket transport, raw: the Engine.IO open,
    CONNECT with the token, then frames until `sync:done`."""

    def __init__(self, url, token):
        self.ws = websocket.create_connection(url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket", timeout=10)
        assert self.ws.recv().startswith("0{")
        self.ws.send('40{"token":"%s"}' % token)
        while "sync:done" not in self.ws.recv():
            pass

    def close(self):
        self.ws.close()


@pytest.mark.parametrize("transport", ["native", "socket.io"])
def test_closed_sockets_leave_nothing_behind(transport):
    """Sockets that end with a close frame or just drop the TCP connection are all
    let go: the open-socket gauge returns to 0 and memory does not grow from one
    round of thousands of sockets to the next (each socket's handler, session and
    queue are freed, not kept by a reference cycle: a Socket.IO session, its client
    and its connection refer to one another until the session closes)."""
    name = "t_churn_" + uuid.uuid4().hex[:8]
    server = launch(database_uri(), name)
    try:
        token, _ = register(server.url, "churn")

        def gauge():
            text = requests.get(server.url + "/metrics", timeout=10).text
            return float(next(line.split()[1] for line in text.splitlines() if line.startswith("parley_websocket_connections ")))

        def open_socket():
            return Native(server.ws_url, token) if transport == "native" else SocketIOSocket(server.url, token)

        def round_of(count):
            for _ in range(count // 500):
                held = [open_socket() for _ in range(500)]
                for i, c in enumerate(held):
                    if i % 2:
                        c.close()  # close frame
                    else:
                        c.ws.shutdown()  # the TCP connection just ends
            deadline = time.monotonic() + 20
            while gauge() > 0 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert gauge() == 0, "sockets the clients closed are still open on the server"

        round_of(2000)  # warms the allocator up
        before = rss_kib(server.process)
        round_of(2000)
        round_of(2000)
        growth = rss_kib(server.process) - before
        # A few hundred KiB of allocator noise; a Socket.IO socket whose session kept
        # its client (the cycle left standing) grew it by 3.9 MiB.
        assert growth < 1536, f"memory grew by {growth} KiB over 4,000 closed sockets"
        print(f"\nsocket churn ({transport}): 6,000 sockets opened and closed; RSS +{growth} KiB over the last 4,000")
    finally:
        server.stop()
        pymongo.MongoClient(database_uri(), serverSelectionTimeoutMS=5000).drop_database(name)
