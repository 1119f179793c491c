"""/healthz: database, broker and sweeper age, without authentication."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from notifications.models import SweepHeartbeat

STALE_AFTER_SECONDS = 120


def _broker_ok() -> bool:
    from config.celery_app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure to reach the broker is "down"
        return False


@require_GET
def healthz(request):
    now = timezone.now()
    body: dict[str, object] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        body["db"] = "ok"
        beat = SweepHeartbeat.objects.filter(name="sweep").values_list("beat_at", flat=True).first()
    except Exception:  # noqa: BLE001
        body["db"] = "down"
        healthy, beat = False, None
    broker = _broker_ok()
    body["broker"] = "ok" if broker else "down"
    healthy = healthy and broker
    age = round((now - beat).total_seconds(), 1) if beat else None
    body["sweeper_age_seconds"] = age
    if age is None or age > STALE_AFTER_SECONDS:
        healthy = False
        body["sweeper"] = "stale" if age is not None else "never ran"
    body["sweep_interval_seconds"] = settings.SWEEP_INTERVAL_SECONDS
    return JsonResponse(body, status=200 if healthy else 503)
