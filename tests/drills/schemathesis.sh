#!/usr/bin/env bash
# API contract fuzzing (issue 30 item 7): Schemathesis 4.x from PyPI, in a venv
# under target/, against the real binary's /api/v1/openapi.json with a signed-in
# organization owner (session cookie + CSRF header) and path ids pinned to rows
# that exist. Checks: no 5xx, status codes / content types / bodies as declared.
# Extra arguments go to `drill.py schemathesis` (e.g. --max-examples 50,
# --include '^/api/v1/bots', --no-ml). See docs/drills.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${SCHEMATHESIS_VENV:-$root/target/drills-venv}"
if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi
[ -x "${DRILL_BIN:-$root/target/debug/botbuilder}" ] || (cd "$root" && cargo build --bin botbuilder)
SCHEMATHESIS="$venv/bin/schemathesis" exec python3 "$root/tests/drills/drill.py" schemathesis "$@"
