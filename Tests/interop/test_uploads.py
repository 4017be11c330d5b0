"""Uploads against a real `parley` process: 20 concurrent 5 MiB uploads leave its
memory within a few MiB per upload (measured from /proc, not timed), and an upload
whose connection drops half way leaves nothing in GridFS."""
import hashlib
import os
import socket
import threading
import time
import uuid

import pymongo
import requests

from conftest import launch, database_uri


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def register(url, name):
    r = requests.post(url + "/api/auth/register", json={"username": name, "password": "a-long-password"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def counts(db):
    return [db["uploads"].count_documents({}), db["fs.files"].count_documents({}), db["fs.chunks"].count_documents({})]


def test_concurrent_uploads_stream_and_a_dropped_one_leaves_nothing():
    uri = database_uri()
    database = "t_uploads_" + uuid.uuid4().hex[:10]
    node = launch(uri, database, MAX_UPLOAD_BYTES=str(6 * 1024 * 1024), UPLOAD_QUOTA_BYTES=str(200 * 1024 * 1024))
    db = pymongo.MongoClient(uri)[database]
    try:
        tokens = [register(node.url, f"up{i}_{uuid.uuid4().hex[:6]}") for i in range(20)]
        size = 5 * 1024 * 1024
        payload = (b"0123456789abcdef" * (size // 16))[:size]
        digest = hashlib.sha256(payload).hexdigest()

        def upload(token, results, i):
            # A generator body: requests streams it chunked, as a browser streams a file.
            def body():
                for start in range(0, size, 256 * 1024):
                    yield payload[start:start + 256 * 1024]
            r = requests.post(node.url + f"/api/uploads?name=big{i}.txt", data=body(),
                              headers={"Authorization": "Bearer " + token, "Content-Type": "text/plain"}, timeout=120)
            results[i] = r

        # Warm up (first connections, pools), then measure around the 20 at once.
        warm = {}
        upload(tokens[0], warm, 0)
        assert warm[0].status_code == 201, warm[0].text
        time.sleep(0.5)
        before = rss_kib(node.process.pid)
        peak = before
        results = {}
        threads = [threading.Thread(target=upload, args=(t, results, i)) for i, t in enumerate(tokens)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_kib(node.process.pid))
            time.sleep(0.05)
        for t in threads:
            t.join()
        assert all(r.status_code == 201 for r in results.values()), [r.text for r in results.values() if r.status_code != 201]
        assert all(r.json()["upload"]["sha256"] == digest and r.json()["upload"]["size"] == size for r in results.values())
        growth_mib = (peak - before) / 1024
        print(f"20 concurrent 5 MiB uploads: RSS {before / 1024:.1f} MiB before, peak {peak / 1024:.1f} MiB, +{growth_mib:.1f} MiB "
              f"({growth_mib / 20:.2f} MiB per upload)")
        # Whole files in memory would be +100 MiB; streaming holds a chunk or two each.
        assert growth_mib / 20 < 3, f"+{growth_mib:.1f} MiB for 20 uploads"
        # The bytes read back as written.
        got = requests.get(node.url + results[3].json()["upload"]["url"], headers={"Authorization": "Bearer " + tokens[3]}, timeout=60)
        assert got.status_code == 200 and hashlib.sha256(got.content).hexdigest() == digest

        # A connection that drops half way: nothing of it is kept.
        stored = counts(db)
        host, port = node.url.replace("http://", "").split(":")
        s = socket.create_connection((host, int(port)))
        s.sendall((f"POST /api/uploads?name=half.txt HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {tokens[5]}\r\n"
                   f"Content-Type: text/plain\r\nContent-Length: {size}\r\n\r\n").encode())
        s.sendall(payload[:2 * 1024 * 1024])
        time.sleep(0.5)
        s.close()
        deadline = time.time() + 15
        while time.time() < deadline and counts(db) != stored:
            time.sleep(0.2)
        assert counts(db) == stored, f"{counts(db)} after the drop, {stored} before"
        assert node.process.poll() is None
    finally:
        node.stop()
        pymongo.MongoClient(uri).drop_database(database)
