#!/usr/bin/env bash
# `make e2e`: the whole stack for real (PostgreSQL, a Prefect server on it, a Dask cluster, two
# job-service replicas, a sweep, the UI in headless Chromium, a deployment run by a process worker).
# See e2e/stack.py; output in out/e2e/. Installs Debian's postgresql and chromium when missing,
# Playwright (the `e2e` extra; pip's playwright wheel brings its driver, no browser: Chromium is
# Debian's) and Dask (the `dask` extra).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${E2E_OUT:-out/e2e}
export E2E_CHROMIUM=${E2E_CHROMIUM:-/usr/bin/chromium}

missing=()
[ -x "$E2E_CHROMIUM" ] || missing+=(chromium)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
    echo "e2e: installing Debian's ${missing[*]}"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
if ! "$PY" -c "import playwright, distributed" 2>/dev/null; then
    echo "e2e: installing playwright and dask (the e2e and dask extras)"
    "$PY" -m pip install --quiet -c requirements.lock -e '.[e2e,dask]'
fi

# The driver stops everything it started (try/finally, also on SIGTERM/SIGINT). Should it die
# hard, the process groups it recorded in $OUT/pids are killed here, and the PostgreSQL cluster
# whose folder and binaries it recorded in $OUT/postgres-dir is stopped and deleted.
driver=
cleanup() {
    if [ -n "$driver" ] && kill -0 "$driver" 2>/dev/null; then
        kill -TERM "$driver" 2>/dev/null || true
        for _ in $(seq 30); do kill -0 "$driver" 2>/dev/null || break; sleep 1; done
        kill -KILL "$driver" 2>/dev/null || true
    fi
    if [ -f "$OUT/pids" ]; then
        while read -r pgid; do kill -KILL -- "-$pgid" 2>/dev/null || true; done < "$OUT/pids"
        rm -f "$OUT/pids"
    fi
    if [ -f "$OUT/postgres-dir" ]; then
        { read -r pgdir; read -r pgbin; } < "$OUT/postgres-dir"
        if [ -f "$pgdir/data/postmaster.pid" ]; then
            as_pg=$([ "$(id -u)" = 0 ] && echo "runuser -u postgres --")
            $as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -m immediate -w stop >/dev/null 2>&1 || true
        fi
        case "$pgdir" in */prefect-ibmq-pg-*) rm -rf "$pgdir" ;; esac
        rm -f "$OUT/postgres-dir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# At most 8 minutes in all (each wait inside is bounded too); usually under 3.
timeout --signal=TERM --kill-after=40 480 "$PY" -m e2e.stack --out "$OUT" "$@" &
driver=$!
wait "$driver"
