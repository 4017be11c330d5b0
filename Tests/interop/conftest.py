"""Fixtures for the interop tests: a real `parley` server process on a free
loopback port, with a database of its own on the server that scripts/test.sh
started, dropped afterwards."""
import os
import socket
import subprocess
import time
import uuid

import pymongo
import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def register_user(url, prefix="user"):
    """A new account on the server at `url`: {token, id, username}."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    r = requests.post(url + "/api/auth/register", json={"username": name, "password": "a-long-password"}, timeout=10)
    assert r.status_code == 201, r.text
    body = r.json()
    return {"token": body["token"], "id": body["user"]["id"], "username": name}


class Server:
    """A running parley and helpers to make users and rooms over REST."""

    def __init__(self, url, ws_url, database=None):
        self.url = url
        self.ws_url = ws_url
        self.database = database
        self.counter = 0

    def register(self, prefix="user"):
        self.counter += 1
        return register_user(self.url, f"{prefix}{self.counter}")

    def create_room(self, token, name="room"):
        r = requests.post(self.url + "/api/rooms", json={"name": name}, headers={"Authorization": "Bearer " + token}, timeout=10)
        assert r.status_code == 201, r.text
        return r.json()["room"]["id"]

    def join(self, token, room):
        r = requests.post(f"{self.url}/api/rooms/{room}/join", headers={"Authorization": "Bearer " + token}, timeout=10)
        assert r.status_code == 200, r.text


SERVER_LOGS = []
JWT_SECRET = "interop-secret-interop-secret-0123"


class Process:
    """A `parley` process started by `launch`, with its URL and log."""

    def __init__(self, process, url, log, env):
        self.process = process
        self.url = url
        self.ws_url = url.replace("http://", "ws://") + "/ws"
        self.log = log
        self.env = env

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL if it does not exit in time; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def launch(uri, database, port=None, wait=True, **overrides):
    """Starts a real `parley` on loopback against `uri`/`database` and waits until it
    is healthy. `overrides` are extra environment settings (KEY=value)."""
    binary = os.environ.get("PARLEY_BINARY", os.path.join(ROOT, ".build", "debug", "parley"))
    assert os.path.exists(binary), f"{binary} is missing: build with `swift build` first (scripts/test.sh does)"
    port = port or free_port()
    env = dict(os.environ)
    env.update({
        "PORT": str(port), "HOST": "127.0.0.1", "MONGODB_URI": uri, "MONGODB_DATABASE": database,
        "MIGRATIONS_DIR": os.path.join(ROOT, "migrations"), "PARLEY_ENV": "test", "JWT_SECRET": JWT_SECRET, "BCRYPT_COST": "4",
        "AUTH_RATE_LIMIT_PER_MINUTE": "100000", "RATE_LIMIT_MESSAGES_PER_SECOND": "1000", "RATE_LIMIT_BURST": "1000",
        "SOCKETIO_PING_INTERVAL_MS": "400", "SOCKETIO_PING_TIMEOUT_MS": "2000", "LOG_LEVEL": "warning",
    })
    env.update({k: str(v) for k, v in overrides.items()})
    log = open(os.path.join("/tmp", f"parley-interop-{port}.log"), "a")
    SERVER_LOGS.append(log.name)
    process = subprocess.Popen([binary], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    handle = Process(process, f"http://127.0.0.1:{port}", log.name, env)
    if wait:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(handle.url + "/healthz", timeout=1).status_code == 200:
                    return handle
            except requests.RequestException:
                pass
            assert process.poll() is None, "parley exited at start; see " + log.name
            time.sleep(0.1)
        process.kill()
        pytest.fail("parley did not become healthy; see " + log.name)
    return handle


def database_uri():
    uri = os.environ.get("MONGODB_URI")
    assert uri, "MONGODB_URI is not set: run the tests with scripts/test.sh, which starts a database"
    return uri


@pytest.fixture(scope="session")
def server():
    uri = database_uri()
    database = "t_interop_" + uuid.uuid4().hex[:10]
    handle = launch(uri, database)
    yield Server(handle.url, handle.ws_url, database)
    handle.stop()
    pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000).drop_database(database)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """On failure, the end of each server's log, so a CI run explains itself."""
    if exitstatus == 0:
        return
    for path in dict.fromkeys(SERVER_LOGS):
        try:
            lines = open(path, errors="replace").read().splitlines()[-40:]
        except OSError:
            continue
        terminalreporter.write_sep("-", f"last lines of {path}")
        for line in lines:
            terminalreporter.write_line(line)
