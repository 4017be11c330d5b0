"""Parley against the Node.js peer, from one `scripts/bench.sh` run with BENCH_PEER=1:
each scenario's figures side by side, as a Markdown table, with the ratio always
read as "times better than the peer" (rates divided, times and costs inverted)."""
import json
import sys

# (row label, scenario, which rows, [(figure, higher is better)])
SCENARIOS = [
    ("throughput, max", "throughput", lambda p: p.get("rate per sender", "").startswith("max"),
     [("messages stored per s", True), ("latency p99 ms", False), ("server CPU us per stored message", False)]),
    ("throughput, half the ceiling offered", "throughput", lambda p: not p.get("rate per sender", "").startswith("max"),
     [("messages stored per s", True), ("latency p50 ms", False), ("latency p99 ms", False), ("server CPU us per stored message", False)]),
    ("fanout", "fanout", lambda p: True,
     [("deliveries per s", True), ("latency p99 ms", False), ("server CPU us per delivery", False)]),
    ("offline flush", "offline", lambda p: "rooms" not in p,
     [("seconds to sync:done", False), ("flush / db read", False), ("server CPU us per flushed message", False)]),
    ("offline flush, 10 rooms", "offline", lambda p: p.get("rooms") == "10",
     [("seconds to sync:done", False), ("flush / db read", False), ("server CPU us per flushed message", False)]),
    ("connections", "connections", lambda p: p.get("transport", "native /ws") == "native /ws",
     [("seconds to open", False), ("server CPU us per connection opened", False), ("server KiB per connection", False),
      ("server KiB per connection, second half", False)]),
]


def pick(results, scenario, server, which):
    rows = [r for r in results if r["scenario"] == scenario and r["parameters"].get("server") == server and which(r["parameters"])]
    return rows[-1]["figures"] if rows else None


def main(path):
    results = json.load(open(path))
    print("| scenario | figure | Parley | peer | Parley ahead by |")
    print("|---|---|---|---|---|")
    for label, scenario, which, figures in SCENARIOS:
        # The peer's connections are held against a fresh Parley node of the same count.
        parley = pick(results, scenario, "parley-fresh" if scenario == "connections" else "parley", which)
        peer = pick(results, scenario, "peer", which)
        if not parley or not peer:
            continue
        for name, higher in figures:
            a, b = parley.get(name), peer.get(name)
            if a is None or b is None:
                continue
            # A figure at or below zero has no ratio: the peer's RSS can fall while it
            # holds connections (its garbage collector runs).
            ratio = f"{(a / b if higher else b / a):.2f}x" if a > 0 and b > 0 else "n/a"
            print(f"| {label} | {name} | {a:,.2f} | {b:,.2f} | {ratio} |")


if __name__ == "__main__":
    main(sys.argv[1])
