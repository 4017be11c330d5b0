"""Helpers of the cluster tests: nodes of `parley` sharing one database, nginx in
front of them with sticky routing that works on loopback, and a tally of what each
client received (duplicates, missing acknowledged messages, seqs out of order)."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from conftest import free_port

NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    # Sticky by client address: every request of one client (its WebSocket, or all
    # the polls of one Engine.IO session) reaches the same node. Consistent hashing,
    # not ip_hash, which keys on the first three octets and so sends every 127.x
    # client to one node.
    upstream parley {{
        hash $remote_addr consistent;
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://parley;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_read_timeout 3600s;
            proxy_buffering off;
        }}
    }}
}}
"""


class Nginx:
    """nginx on a free loopback port in front of `ports`, started and stopped by the test."""

    def __init__(self, ports):
        self.prefix = tempfile.mkdtemp(prefix="parley-nginx-")
        self.port = free_port()
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in ports)
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(prefix=self.prefix, port=self.port, servers=servers))
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen([binary, "-p", self.prefix, "-c", conf, "-g", "daemon off;"], stderr=subprocess.STDOUT,
                                        stdout=open(os.path.join(self.prefix, "out.log"), "w"))
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None, open(os.path.join(self.prefix, "out.log")).read()
                time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"

    def node_of(self, source):
        """The node id that answers a client at address `source` (through nginx)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5, source_address=(source, 0))
        try:
            conn.request("GET", "/healthz")
            return json.loads(conn.getresponse().read())["node"]
        finally:
            conn.close()

    def sources(self, node_ids):
        """A client address (127.0.0.x) that nginx sends to each node."""
        found = {}
        for last in range(2, 250):
            source = f"127.0.0.{last}"
            node = self.node_of(source)
            found.setdefault(node, source)
            if all(n in found for n in node_ids):
                return {n: found[n] for n in node_ids}
        raise AssertionError(f"no client address reaches every node: {found}")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)


class Tally:
    """What one client received of one room: every `message:new`, checked."""

    def __init__(self):
        self.ids = []
        self.seqs = []

    def add(self, message):
        self.ids.append(message["id"])
        self.seqs.append(message["seq"])

    @property
    def duplicates(self):
        return len(self.ids) - len(set(self.ids))

    @property
    def out_of_order(self):
        return sum(1 for a, b in zip(self.seqs, self.seqs[1:]) if b <= a)

    def missing(self, expected_ids):
        return len(set(expected_ids) - set(self.ids))


def receive(client, room, tally, count, timeout=30):
    """Takes `count` `message:new` of `room` from `client` into `tally`."""
    deadline = time.time() + timeout
    while len(tally.ids) < count:
        assert time.time() < deadline, f"{len(tally.ids)} of {count} messages after {timeout} s"
        frame = client.take(lambda f: f["type"] == "message:new" and f["data"]["message"]["roomId"] == room)
        tally.add(frame["data"]["message"])
    return tally


def wait_until(predicate, timeout=20, interval=0.05, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"{what} not reached within {timeout} s")
