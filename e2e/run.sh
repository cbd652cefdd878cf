#!/usr/bin/env bash
# `make e2e`: the whole stack for real (Prefect server, job service, a sweep, the UI in headless
# Chromium, a deployment run by a process worker). See e2e/stack.py; output in out/e2e/.
# Installs Debian's chromium when /usr/bin/chromium is missing, and Playwright (the `e2e` extra;
# pip's playwright wheel brings its driver, no browser: Chromium is Debian's).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
OUT=${E2E_OUT:-out/e2e}
export E2E_CHROMIUM=${E2E_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$E2E_CHROMIUM" ]; then
    echo "e2e: installing Debian's chromium"
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
if ! "$PY" -c "import playwright" 2>/dev/null; then
    echo "e2e: installing playwright (the e2e extra)"
    "$PY" -m pip install --quiet -c requirements.lock -e '.[e2e]'
fi

# The driver stops everything it started (try/finally, also on SIGTERM/SIGINT). Should it die
# hard, the process groups it recorded in $OUT/pids are killed here.
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
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# At most 8 minutes in all (each wait inside is bounded too); usually under 2.
timeout --signal=TERM --kill-after=40 480 "$PY" e2e/stack.py --out "$OUT" "$@" &
driver=$!
wait "$driver"
