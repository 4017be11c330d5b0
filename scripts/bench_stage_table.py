"""Where a stored message's time and the database's work go, from one
`scripts/bench.sh` run: per single-node throughput run of Parley (light, half,
max), the latency beside the stage histogram's p50/p99 (queue wait, insert,
fan-out, socket write), and the database's work per stored message beside what
the ceiling probes cost it per document, as Markdown tables."""
import json
import sys

STAGES = ["queue wait", "insert", "fanout", "write"]
WORK = ["db operations", "db insert", "db update", "db query", "db command", "db CPU us"]


def main(path):
    results = json.load(open(path))
    runs = [r for r in results if r["scenario"] == "throughput" and r["parameters"].get("server") == "parley"]
    print("| offered | stored/s | latency p50 / p99 ms | " + " | ".join(f"{s} p50 / p99 ms" for s in STAGES) + " |")
    print("|---|---|---|" + "---|" * len(STAGES))
    for r in runs:
        f = r["figures"]
        cells = [f"{f.get(f'stage {s} p50 ms', float('nan')):g} / {f.get(f'stage {s} p99 ms', float('nan')):g}" for s in STAGES]
        rate = r["parameters"]["rate per sender"]
        offered = rate if rate.startswith("max") else f"{float(rate.rstrip('/s')) * int(r['parameters']['senders']):,.0f}/s"
        print(f"| {offered} | {f['messages stored per s']:,.0f} | "
              f"{f['latency p50 ms']:,.1f} / {f['latency p99 ms']:,.1f} | " + " | ".join(cells) + " |")
    ceilings = [r["figures"] for r in results if r["scenario"] == "db-ceiling"]
    stored = next((r["figures"] for r in runs if "db operations per stored message" in r["figures"]), None)
    if not stored or not ceilings:
        return
    mean = sum(c["documents inserted per s"] for c in ceilings) / len(ceilings)
    print()
    print(f"Throughput {stored['messages stored per s']:,.0f} stored/s against the ceiling's {mean:,.0f} documents/s: "
          f"{stored['messages stored per s'] / mean:.2f} of it.")
    print()
    print("| the database's work | per stored message (Parley) | per document (ceiling probe) |")
    print("|---|---|---|")
    for name in WORK:
        a = stored.get(f"{name} per stored message")
        b = [c.get(f"{name} per document") for c in ceilings]
        b = [x for x in b if x is not None]
        if a is None and not b:
            continue
        print(f"| {name} | {a if a is not None else 0:,.3f} | {sum(b) / len(b) if b else 0:,.3f} |")


if __name__ == "__main__":
    main(sys.argv[1])
