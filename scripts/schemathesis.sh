#!/usr/bin/env bash
# Fuzzes a running Plotina against its own OpenAPI document with schemathesis:
# no 5xx for any input, and every response must match the documented schema.
# Usage: scripts/schemathesis.sh [max-examples]   (builds and starts its own server)
set -uo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-${SCHEMATHESIS_EXAMPLES:-25}}"
PORT="${SCHEMATHESIS_PORT:-18089}"
DATA=$(mktemp -d /tmp/plotina-st.XXXXXX)
VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis>=4,<5'
fi

cargo build -q -p plotina
BIN=target/debug/plotina
"$BIN" --data-dir "$DATA" demo --size small --admin-password 'st-admin-password' >/dev/null
"$BIN" --data-dir "$DATA" serve --listen "127.0.0.1:$PORT" >"$DATA/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
TOKEN=$("$BIN" --data-dir "$DATA" token create --login admin --name schemathesis 2>/dev/null | tail -n 1)

"$VENV/bin/schemathesis" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  --phases examples,fuzzing,stateful \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "$EXAMPLES" \
  --workers 2 \
  --suppress-health-check all \
  --no-color
status=$?
if grep -q "panicked" "$DATA/server.log"; then
  echo "the server panicked during fuzzing:" >&2
  grep -A5 panicked "$DATA/server.log" >&2
  exit 1
fi
exit $status
