#!/usr/bin/env bash
# Schemathesis against the live OpenAPI schema (issue 4, "must show" 4): a fresh PostgreSQL database, migrated and
# seeded, gunicorn on loopback, then a bounded fuzzing run per persona (duty room, unit staff) with the checks
# not_a_server_error and response_schema_conformance. Exits non-zero on any failure; always stops its server.
#
# Environment: SCHEMATHESIS_PORT (8113), SCHEMATHESIS_DB (tracker_schemathesis), SCHEMATHESIS_MAX_EXAMPLES (10),
# SCHEMATHESIS_WORKERS (4), PGHOST/PGUSER as for psql (127.0.0.1/postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${SCHEMATHESIS_PORT:-8113}"
DB="${SCHEMATHESIS_DB:-tracker_schemathesis}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-10}"
WORKERS="${SCHEMATHESIS_WORKERS:-4}"
PGHOST="${PGHOST:-127.0.0.1}"
PGUSER="${PGUSER:-postgres}"
BIN=.venv/bin
LOG="$(mktemp -t schemathesis-gunicorn.XXXXXX.log)"

export DJANGO_SETTINGS_MODULE=config.settings.test
export DATABASE_URL="postgres://${PGUSER}@${PGHOST}:5432/${DB}"
# Side effects (chasing tasks) go to an in-process broker: nothing here needs a worker, and no queue is left behind.
export CELERY_BROKER_URL="memory://"
# The SMS throttle would answer 429 to a fuzzer long before it finds anything interesting.
export THROTTLE_SMS_RATE="1000000/min"
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -f "$LOG"
}
trap cleanup EXIT INT TERM

psql -h "$PGHOST" -U "$PGUSER" -qc "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" postgres
psql -h "$PGHOST" -U "$PGUSER" -qc "CREATE DATABASE \"$DB\"" postgres
$BIN/python manage.py migrate --noinput -v0
DEMO_PASSWORD="schemathesis-only" $BIN/python manage.py seed_demo --days 2 >/dev/null

# Tokens for the two personas, and one incident so that detail endpoints have something real to find.
read -r _ DUTY_TOKEN STAFF_TOKEN < <($BIN/python manage.py shell -v0 -c '
from datetime import timedelta
from django.utils import timezone
from rest_framework.authtoken.models import Token
from reporting import services
from reporting.models import Unit, User
now = timezone.now()
duty, staff = User.objects.get(username="duty"), User.objects.get(username="sijing-officer")
services.incident_create(
    actor=duty, now=now, title="泗泾镇某厂房火灾", domain="production_safety",
    occurred_at=now - timedelta(minutes=20), location="泗泾镇某路1号", summary="", injuries=2,
    units=[{"unit": Unit.objects.get(code="sijing"), "first_known_at": now - timedelta(minutes=10), "channel": "self"}],
)
print("TOKENS", Token.objects.get_or_create(user=duty)[0].key, Token.objects.get_or_create(user=staff)[0].key)
' | grep "^TOKENS")

$BIN/gunicorn config.wsgi:application --bind "127.0.0.1:${PORT}" --workers 4 --log-level warning \
  --error-logfile "$LOG" &
server_pid=$!
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null -H "Authorization: Token ${DUTY_TOKEN}" "http://127.0.0.1:${PORT}/api/schema/" && break
  sleep 0.5
done

status=0
for persona in duty "unit staff"; do
  token="$DUTY_TOKEN"
  [[ "$persona" == "unit staff" ]] && token="$STAFF_TOKEN"
  echo "schemathesis: as ${persona}"
  $BIN/schemathesis run "http://127.0.0.1:${PORT}/api/schema/" \
    -H "Authorization: Token ${token}" \
    --include-path-regex '^/api/v1/' \
    --checks not_a_server_error,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --workers "$WORKERS" \
    --generation-database none \
    --request-timeout 20 \
    --no-color || status=1
done
if [[ $status -ne 0 ]]; then
  echo "schemathesis: failures; server log follows" >&2
  cat "$LOG" >&2
fi
exit $status
