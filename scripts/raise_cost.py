"""What the database spends on one `lastSeq` raise of 8 rooms, in the forms tried.

usage: python3 scripts/raise_cost.py MONGODB_URI DATABASE_PID [RAISES]

Makes `rooms` as the migrations do (validator, indexes) in a throwaway database,
then runs RAISES raises of each form in turn, twice, and prints the database
process's CPU (/proc) per raise:
- two: the previous `RoomRepository.raiseLastSeq`, a `$max` and a conditional
  `lastMessage` `$set` per room;
- one: the current one, both under the conditional filter in one statement;
- pipeline: one aggregation-pipeline update per room with `$cond` (not used).
"""
import datetime
import glob
import json
import os
import sys
import time
import uuid

from bson import Int64, ObjectId
from pymongo import MongoClient, UpdateOne

uri, pid = sys.argv[1], int(sys.argv[2])
raises = int(sys.argv[3]) if len(sys.argv) > 3 else 300
client = MongoClient(uri, directConnection=True)
db = client["raise_cost_" + uuid.uuid4().hex[:8]]
for path in sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "migrations", "*.json"))):
    for step in json.load(open(path))["steps"]:
        if step.get("create") == "rooms" or step.get("createIndexes") == "rooms":
            db.command(step)


def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


now = datetime.datetime.now(datetime.timezone.utc)
rooms = []
for i in range(8):
    room = {"_id": ObjectId(), "name": f"r{i}", "kind": "group", "private": False, "createdBy": ObjectId(),
            "createdAt": now, "lastSeq": Int64(0), "memberCount": Int64(40)}
    db.rooms.insert_one(room)
    rooms.append(room["_id"])


def message(room, seq):
    return {"_id": ObjectId(), "roomId": room, "seq": Int64(seq), "senderId": ObjectId(), "senderName": "bench",
            "text": "x" * 100, "clientId": f"c{seq}", "createdAt": now, "words": ["x" * 40]}



def two(seq, at):
    ops = [UpdateOne({"_id": r}, {"$max": {"lastSeq": Int64(seq), "lastMessageAt": at}}) for r in rooms]
    ops += [UpdateOne({"_id": r, "lastMessageSeq": {"$not": {"$gte": Int64(seq)}}},
                      {"$set": {"lastMessage": message(r, seq), "lastMessageSeq": Int64(seq)}}) for r in rooms]
    db.rooms.bulk_write(ops, ordered=True)


def one(seq, at):
    db.rooms.bulk_write([UpdateOne({"_id": r, "lastMessageSeq": {"$not": {"$gte": Int64(seq)}}},
                                   {"$max": {"lastSeq": Int64(seq), "lastMessageAt": at},
                                    "$set": {"lastMessage": message(r, seq), "lastMessageSeq": Int64(seq)}})
                         for r in rooms], ordered=True)


def pipeline(seq, at):
    last = {"$ifNull": ["$lastMessageSeq", 0]}
    db.rooms.bulk_write([UpdateOne({"_id": r}, [{"$set": {
        "lastSeq": {"$max": ["$lastSeq", Int64(seq)]}, "lastMessageAt": {"$max": ["$lastMessageAt", at]},
        "lastMessage": {"$cond": [{"$lt": [last, Int64(seq)]}, {"$literal": message(r, seq)}, "$lastMessage"]},
        "lastMessageSeq": {"$max": [last, Int64(seq)]}}}]) for r in rooms], ordered=True)


seq = 0
for _ in range(2):
    for name, form in [("two", two), ("one", one), ("pipeline", pipeline)]:
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        for _ in range(raises):
            seq += 10
            form(seq, datetime.datetime.now(datetime.timezone.utc))
        cpu1, wall1 = cpu_seconds(), time.monotonic()
        print(f"{name:8}: database CPU {1e3 * (cpu1 - cpu0) / raises:.2f} ms per raise of 8 rooms, "
              f"wall {1e3 * (wall1 - wall0) / raises:.2f} ms")
assert all(db.rooms.find_one({"_id": r})["lastSeq"] == seq for r in rooms)
client.drop_database(db.name)
