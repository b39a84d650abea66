#!/usr/bin/env bash
# Runs the whole workspace test suite: `cargo test --workspace --locked "$@"`, after
# scripts/install-browser.sh has made sure Chromium and chromedriver are there; without
# arguments, then a one-second smoke run of each benchmark harness (no timing asserted)
# and a short schemathesis run against the OpenAPI document on both stores.
#
# The end-to-end suites need a PostgreSQL server they may create databases on. It is found
# in this order:
#   1. CASEFILE_TEST_DATABASE_URL, when set (an admin URL, e.g. postgres://postgres@host:5432/postgres);
#   2. the local server on 127.0.0.1:5432, when it answers (as postgres://postgres@127.0.0.1:5432/postgres);
#   3. a throwaway cluster started from the installed PostgreSQL binaries (initdb, pg_ctl) in a
#      temporary directory on a free port, stopped and removed when this script exits.
# With none of these it fails and says how to install PostgreSQL.
#
# CASEFILE_TEST_PG_PORT_PROBE changes only the port probed in step 2 (default 5432), so that
# step 3 can be exercised on a machine whose own server runs on 5432.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'test.sh: %s\n' "$*" >&2; }

probe_host=127.0.0.1
probe_port="${CASEFILE_TEST_PG_PORT_PROBE:-5432}"

# Does a PostgreSQL server accept connections on host $1, port $2?
pg_answers() {
    local host=$1 port=$2
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$host" -p "$port" -t 3
    elif command -v timeout >/dev/null 2>&1; then
        timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
    else
        bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null
    fi
}

# Prints the directory holding initdb, pg_ctl and postgres, newest version first:
# PATH first, then the Debian/Ubuntu layout, then other common layouts.
find_pg_bindir() {
    local candidates=() dir
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
    fi
    if command -v pg_ctl >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v pg_ctl)")")")
    fi
    local versioned
    versioned=$(
        for dir in /usr/lib/postgresql/*/bin /usr/pgsql-*/bin /opt/homebrew/opt/postgresql@*/bin \
            /usr/local/opt/postgresql@*/bin /opt/homebrew/opt/postgresql/bin /usr/local/opt/postgresql/bin; do
            [ -d "$dir" ] && printf '%s\n' "$dir"
        done | sort -V -r
    )
    if [ -n "$versioned" ]; then
        while IFS= read -r dir; do candidates+=("$dir"); done <<<"$versioned"
    fi
    for dir in "${candidates[@]+"${candidates[@]}"}"; do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

# A TCP port on 127.0.0.1 that nothing answers on.
free_port() {
    local port tries
    for tries in $(seq 1 200); do
        port=$((20000 + RANDOM % 30000))
        if ! (bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null); then
            printf '%s\n' "$port"
            return 0
        fi
    done
    return 1
}

PG_TMP=""
PG_BINDIR=""
PG_AS_USER=""

# Runs a command as the cluster's owner: as root, initdb and postgres refuse to run, so
# they run as the `postgres` OS user.
as_pg() {
    if [ -z "$PG_AS_USER" ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$PG_AS_USER" -- "$@"
    else
        su "$PG_AS_USER" -s /bin/bash -c "$(printf '%q ' "$@")"
    fi
}

stop_throwaway_cluster() {
    if [ -n "$PG_TMP" ] && [ -d "$PG_TMP" ]; then
        if [ -f "$PG_TMP/data/postmaster.pid" ]; then
            log "stopping the throwaway PostgreSQL cluster"
            as_pg "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
                as_pg "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        rm -rf "$PG_TMP"
    fi
    PG_TMP=""
}

# Starts a throwaway cluster from the binaries in $1 and prints its admin URL.
start_throwaway_cluster() {
    PG_BINDIR=$1
    if [ "$(id -u)" = 0 ]; then
        if ! id postgres >/dev/null 2>&1; then
            log "running as root: PostgreSQL will not run as root and there is no 'postgres' OS user"
            log "create one (useradd --system postgres), run as another user, or set CASEFILE_TEST_DATABASE_URL"
            return 1
        fi
        PG_AS_USER=postgres
        # Somewhere the postgres user can reach whatever TMPDIR says.
        PG_TMP=$(mktemp -d /tmp/casefile-pg.XXXXXX)
        chown postgres "$PG_TMP"
    else
        PG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/casefile-pg.XXXXXX")
    fi
    local port
    port=$(free_port) || { log "no free port found"; return 1; }
    as_pg mkdir -p "$PG_TMP/sock"
    log "starting a throwaway PostgreSQL cluster ($PG_BINDIR) in $PG_TMP on port $port"
    if ! as_pg "$PG_BINDIR/initdb" -D "$PG_TMP/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$PG_TMP/initdb.log" 2>&1; then
        log "initdb failed:"
        cat "$PG_TMP/initdb.log" >&2
        return 1
    fi
    if ! as_pg "$PG_BINDIR/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/data/server.log" -w -t 60 start \
        -o "-p $port -k $PG_TMP/sock -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        >/dev/null; then
        log "the throwaway cluster did not start:"
        cat "$PG_TMP/data/server.log" >&2 || true
        return 1
    fi
    if ! pg_answers 127.0.0.1 "$port"; then
        log "the throwaway cluster does not answer on 127.0.0.1:$port"
        return 1
    fi
    printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
}

install_hint() {
    cat >&2 <<EOF
test.sh: no PostgreSQL server for the end-to-end suites.
  Nothing answers on $probe_host:$probe_port, CASEFILE_TEST_DATABASE_URL is not set, and no PostgreSQL
  server binaries (initdb, pg_ctl, postgres) were found on PATH or in /usr/lib/postgresql/*/bin.
  Install them, then run this script again:
    Debian/Ubuntu:  sudo apt-get install postgresql
    Fedora/RHEL:    sudo dnf install postgresql-server
    macOS:          brew install postgresql
  or point the suite at a server it may create databases on:
    CASEFILE_TEST_DATABASE_URL=postgres://postgres@HOST:5432/postgres scripts/test.sh
EOF
}

# Resolves the admin URL; may start a throwaway cluster (the caller's trap stops it).
resolve_database_url() {
    if [ -n "${CASEFILE_TEST_DATABASE_URL:-}" ]; then
        log "using CASEFILE_TEST_DATABASE_URL"
        printf '%s\n' "$CASEFILE_TEST_DATABASE_URL"
        return 0
    fi
    if pg_answers "$probe_host" "$probe_port"; then
        log "using the PostgreSQL server on $probe_host:$probe_port"
        printf 'postgres://postgres@%s:%s/postgres\n' "$probe_host" "$probe_port"
        return 0
    fi
    local bindir
    if ! bindir=$(find_pg_bindir); then
        install_hint
        return 1
    fi
    start_throwaway_cluster "$bindir"
}

main() {
    trap stop_throwaway_cluster EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    local url
    # Not in a subshell: the cluster's state must stay in this shell for the trap.
    resolve_database_url >"${TMPDIR:-/tmp}/casefile-test-url.$$" || {
        rm -f "${TMPDIR:-/tmp}/casefile-test-url.$$"
        exit 1
    }
    url=$(cat "${TMPDIR:-/tmp}/casefile-test-url.$$")
    rm -f "${TMPDIR:-/tmp}/casefile-test-url.$$"
    export CASEFILE_TEST_DATABASE_URL="$url"
    # The browser suite drives Chromium through chromedriver; installs them when missing.
    scripts/install-browser.sh
    log "cargo test --workspace --locked $*"
    local status=0
    cargo test --workspace --locked "$@" || status=$?
    if [ "$#" -eq 0 ] && [ "$status" -eq 0 ]; then
        # The benchmarks' harnesses, run for a second each in the test build: this proves
        # they work end to end. It times nothing; `cargo bench` gives the figures.
        log "smoke run of the benchmarks (QUICK=1)"
        QUICK=1 cargo test --locked -p casefile-tests --bench service --bench queue --bench scale || status=$?
    fi
    if [ "$#" -eq 0 ] && [ "$status" -eq 0 ]; then
        # The API against its own OpenAPI document on both stores, a short fixed-seed run
        # (the full one is scripts/reliability.sh). Schemathesis installs from PyPI into
        # target/ the first time, as Chromium installs from the distribution's packages.
        log "schemathesis, short run (MAX_EXAMPLES=10 SEED=1)"
        MAX_EXAMPLES=10 SEED=1 CASEFILE_PG_URL_BASE="${url%/*}" scripts/schemathesis.sh --postgres ||
            status=$?
    fi
    exit "$status"
}

main "$@"
