#!/usr/bin/env bash
# The reliability suite at full counts: the service killed with SIGKILL 20 times under mixed
# load on each store, PostgreSQL stopped with `-m immediate` under load, SQLite out of disk,
# a pool too small for the load, 32 writers on one case and on 32 cases, what each store
# error becomes in an answer, then the fuzz targets at 20,000 cases each, then schemathesis
# against the OpenAPI document.
# Loopback only; every part stops by itself. The test command runs the same scenarios with
# small counts.
#
#   scripts/reliability.sh                    # everything
#   scripts/reliability.sh --no-schemathesis  # without it (it installs from PyPI once)
#
# CASEFILE_RELIABILITY_KILLS (default 20) and PROPTEST_CASES (default 20000) change the counts.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CASEFILE_RELIABILITY_KILLS="${CASEFILE_RELIABILITY_KILLS:-20}"
started=$(date +%s)

echo "== faults under load: ${CASEFILE_RELIABILITY_KILLS} kills per store, database crash, disk full, small pool, 32 writers, store errors"
scripts/test.sh --test e2e -- reliability concurrency store_faults

echo "== fuzz targets: ${PROPTEST_CASES:-20000} cases each"
PROPTEST_CASES="${PROPTEST_CASES:-20000}" cargo test --locked -p casefile-domain --test fuzz

if [ "${1:-}" != "--no-schemathesis" ]; then
    echo "== schemathesis"
    scripts/schemathesis.sh
fi

echo "== reliability suite passed in $(($(date +%s) - started)) s"
