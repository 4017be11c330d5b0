"""A small client of the native `/ws` protocol for the interop tests, on
websocket-client: requests with acks, pushes kept in arrival order."""
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
        self.frames = []
        self.close_code = None
        self.next_id = 0
        self.lock = threading.Lock()
        self.flushed = []  # the offline queue, when `sync`: messages before `sync:done`
        if sync:
            self.wait_for("sync:done")
            self.flushed = self.pushes("message:new")

    def recv(self):
        """The next frame; a close frame raises `Closed` and sets `close_code`."""
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
                return message

    def wait_for(self, type_, match=lambda d: True):
        while True:
            frame = self.recv()
            if frame["type"] == type_ and match(frame.get("data", {})):
                return frame

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
        while True:
            frame = self.recv()
            if frame["type"] == "ack" and frame.get("id") == rid:
                return frame

    def close(self):
        try:
            self.ws.close()
        except OSError:
            pass
