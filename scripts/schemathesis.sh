#!/usr/bin/env bash
# Property-based tests of the HTTP API against its own OpenAPI document with
# schemathesis: every operation with examples, coverage and fuzzed data, then
# sequences that follow the document's links (log a case, act on it, act again),
# started where scripts/schemathesis_hooks.py says.
# Fails on any 5xx, any response that does not fit the document, any undocumented
# status or content type, any invalid request accepted and any valid one refused.
#
#   scripts/schemathesis.sh                 # SQLite, the full run
#   scripts/schemathesis.sh --postgres      # PostgreSQL on 127.0.0.1:5432 as well
#   MAX_EXAMPLES=20 scripts/schemathesis.sh # a shorter run
#
# Installs schemathesis from PyPI on first use (into target/schemathesis-venv); the test
# command (scripts/test.sh) runs it briefly. Loopback only; stops the service it starts.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ST_VERSION=4.32.5
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
PG_URL_BASE=${CASEFILE_PG_URL_BASE:-postgres://postgres@127.0.0.1:5432}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=$TARGET/schemathesis-venv

backends=(sqlite)
for arg in "$@"; do
  case $arg in
    --postgres) backends+=(postgres) ;;
    *) echo "usage: $0 [--postgres]" >&2; exit 2 ;;
  esac
done

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  echo "installing schemathesis $ST_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$ST_VERSION"
fi

cargo build --quiet -p casefile-api --bin casefile
BIN=$TARGET/debug/casefile

WORK=$(mktemp -d)
PID=
PG_DB=
cleanup() {
  if [[ -n $PID ]]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  if [[ -n $PG_DB ]]; then psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

TOKEN=st-admin-$(python3 -c 'import secrets; print(secrets.token_hex(16))')
status=0

for backend in "${backends[@]}"; do
  case $backend in
    sqlite) url="sqlite://$WORK/casefile.db" ;;
    postgres)
      PG_DB=casefile_st_$$
      psql "$PG_URL_BASE/postgres" -qc "CREATE DATABASE $PG_DB" >/dev/null
      url="$PG_URL_BASE/$PG_DB"
      ;;
  esac
  port=$(free_port)
  CASEFILE_DATABASE_URL=$url CASEFILE_LISTEN=127.0.0.1:$port \
    CASEFILE_ADMIN_TOKEN=$TOKEN CASEFILE_LOG=error \
    "$BIN" >"$WORK/service-$backend.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/service-$backend.log" >&2; exit 1; }
    sleep 0.2
  done

  echo "== schemathesis against $backend (port $port)"
  # All checks; the statuses the configuration widens are explained there, and what the
  # hooks add (where stateful sequences start, valid first steps) in the hooks file.
  if ! SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py" \
      "$VENV/bin/st" --config-file "$ROOT/scripts/schemathesis.toml" run \
      "http://127.0.0.1:$port/api/v1/openapi.json" \
      -H "Authorization: Bearer $TOKEN" \
      --checks all --max-examples "$MAX_EXAMPLES" --workers 2 \
      --seed "${SEED:-$RANDOM}" --no-color; then
    status=1
  fi
  # A run whose token stopped working tested nothing after that: every answer was 401.
  if ! curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port/api/v1/me" >/dev/null; then
    echo "the run's administrator token no longer works: the run revoked it" >&2
    status=1
  fi
  # A 5xx is logged by the service too: show it whatever schemathesis said.
  if grep -q '"request failed"\|request failed' "$WORK/service-$backend.log"; then
    echo "the service logged server errors:" >&2
    grep 'request failed' "$WORK/service-$backend.log" | head -20 >&2
    status=1
  fi

  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
  if [[ $backend == postgres ]]; then
    psql "$PG_URL_BASE/postgres" -qc "DROP DATABASE $PG_DB" >/dev/null; PG_DB=
  fi
done

exit $status
