"""A python-socketio client for the dialect tests: connects in a dialect (through
`auth.dialect`, or the handshake query), records every event, and waits for them
without dropping any."""
import threading
import time

import socketio


class DialectClient:
    def __init__(self, url, dialect=None, auth=None, query=None, transports=("websocket",)):
        self.events = []
        self.cond = threading.Condition()
        self.sio = socketio.Client(reconnection=False)

        @self.sio.on("*")
        def any_event(event, *args):
            with self.cond:
                self.events.append((event, args[0] if args else None))
                self.cond.notify_all()

        payload = dict(auth or {})
        if dialect and query is None:
            payload["dialect"] = dialect
        target = url + ("?" + query if query else "")
        self.sio.connect(target, auth=payload or None, transports=list(transports), wait_timeout=10)

    def emit(self, event, *args):
        self.sio.emit(event, args[0] if len(args) == 1 else args if args else None)

    def call(self, event, data=None, timeout=10):
        """An emit with an ack callback, as the example code's callbacks do."""
        return self.sio.call(event, data, timeout=timeout)

    def wait_for(self, event, match=lambda d: True, timeout=10):
        """The first unread `event` that matches; taken, every other left unread."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for i, (name, data) in enumerate(self.events):
                    if name == event and match(data):
                        del self.events[i]
                        return data
                left = deadline - time.time()
                assert left > 0, f"no {event} within {timeout}s; got {[(e, d) for e, d in self.events][:20]}"
                self.cond.wait(left)

    def none(self, event, match=lambda d: True, wait=0.5):
        """Asserts no matching `event` arrives within `wait` seconds."""
        time.sleep(wait)
        with self.cond:
            found = [d for n, d in self.events if n == event and match(d)]
        assert not found, f"unexpected {event}: {found}"

    def close(self):
        self.sio.disconnect()
