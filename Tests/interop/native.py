"""A small client of the native `/ws` protocol for the interop tests, on
websocket-client: requests with acks, pushes kept in arrival order. No wait drops a
frame: waiting for one leaves the others unread for the next wait."""
import json
import socket
import threading

import websocket


class Closed(Exception):
    """The server closed the connection with a close frame (`code`)."""

    def __init__(self, code):
        super().__init__(f"closed by the server with {code}")
        self.code = code


class Native:
    """One authenticated `/ws` connection. `frames` keeps every frame received."""

    def __init__(self, ws_url, token, timeout=10, sync=True, source=None):
        """`source`: the local address to connect from (any 127.0.0.x on loopback)."""
        sock = None
        if source:
            host, port = ws_url.split("//", 1)[1].split("/", 1)[0].split(":")
            sock = socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0))
        headers = [f"Authorization: Bearer {token}"] if token else []
        self.ws = websocket.create_connection(ws_url, header=headers, timeout=timeout, socket=sock)
        self.frames = []  # every frame received, in order
        self.unread = []  # the frames no `take` has taken yet, in order
        self.close_code = None
        self.next_id = 0
        self.lock = threading.Lock()
        self.flushed = []  # the offline queue, when `sync`: messages before `sync:done`
        if sync:
            self.wait_for("sync:done")
            # `ready` and the flush open the session: taken here, not left for later
            # waits (everything unread now came before `sync:done`).
            self.flushed = [f["data"] for f in self.unread if f["type"] == "message:new"]
            self.unread = [f for f in self.unread if f["type"] not in ("ready", "message:new")]

    def recv(self):
        """The next frame off the socket (kept in `frames` and left unread for `take`);
        a close frame raises `Closed` and sets `close_code`. Waits should use `take`."""
        while True:
            frame = self.ws.recv_frame()
            if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                self.close_code = int.from_bytes(frame.data[:2], "big") if len(frame.data) >= 2 else None
                try:  # answer the close handshake, if the server still listens
                    self.ws.send_close()
                except OSError:
                    pass
                raise Closed(self.close_code)
            if frame.opcode == websocket.ABNF.OPCODE_PING:
                self.ws.pong(frame.data)
            elif frame.opcode == websocket.ABNF.OPCODE_TEXT:
                message = json.loads(frame.data)
                self.frames.append(message)
                self.unread.append(message)
                return message

    def take(self, match=lambda f: True):
        """The first unread frame that `match`es, waiting for it: taken out of the
        unread frames, and every other frame left there for a later `take`."""
        for i, frame in enumerate(self.unread):
            if match(frame):
                del self.unread[i]
                return frame
        while True:
            frame = self.recv()
            if match(frame):
                self.unread.pop()
                return frame

    def next(self):
        """The next unread frame."""
        return self.take()

    def wait_for(self, type_, match=lambda d: True):
        return self.take(lambda f: f["type"] == type_ and match(f.get("data", {})))

    def pushes(self, type_):
        return [f["data"] for f in self.frames if f["type"] == type_]

    def send(self, type_, data, rid=None):
        """Sends without waiting; returns the request id (None: no ack asked)."""
        frame = {"type": type_, "data": data}
        if rid is not None:
            frame["id"] = rid
        with self.lock:
            self.ws.send(json.dumps(frame))
        return rid

    def request(self, type_, data):
        self.next_id += 1
        rid = f"r{self.next_id}"
        self.send(type_, data, rid)
        return self.ack(rid)

    def ack(self, rid):
        return self.take(lambda f: f["type"] == "ack" and f.get("id") == rid)

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass


class EnginePackets:
    """The Engine.IO packets of a raw websocket-client socket (`/socket.io/` with
    `transport=websocket`), for tests that speak the framing by hand: pings are
    answered, every other packet is kept in order, and `take` leaves the packets it
    was not waiting for unread, as `Native.take` does."""

    def __init__(self, ws):
        self.ws = ws
        self.unread = []

    def take(self, match=lambda p: True):
        for i, packet in enumerate(self.unread):
            if match(packet):
                del self.unread[i]
                return packet
        while True:
            packet = self.ws.recv()
            if packet == "2":
                self.ws.send("3")
                continue
            if match(packet):
                return packet
            self.unread.append(packet)
