#!/usr/bin/env bash
# The micro benchmarks (Tests/Benchmarks, ordo-one/benchmark): a stored message to
# its /ws and Socket.IO frames, a batch of BSON message documents decoded, a
# message's search words and its BSON (each by both paths), an inbound frame
# decoded; time, CPU and mallocs per item, release build. Their own
# build folder (.build-bench) and PARLEY_BENCHMARKS=1, which alone adds them to
# Package.swift: the tests' build never resolves them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -x /opt/swift/usr/bin/swift ] && export PATH="/opt/swift/usr/bin:$PATH"
PARLEY_BENCHMARKS=1 swift package --scratch-path .build-bench --allow-writing-to-package-directory \
  benchmark --target ParleyBenchmarks --no-progress "$@"
