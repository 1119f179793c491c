"""The Celery application: worker and beat share the Django settings (CELERY_* names)."""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("tracker")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def close_old_connections(sender=None, **kwargs) -> None:
    """Around each task, as Django does around each request: close database connections that are broken or older
    than CONN_MAX_AGE (0, the test settings: after every task), keep the others (``CELERY_DB_REUSE_MAX``). Not
    for a task run eagerly, inside its caller's transaction."""
    from django.db import close_old_connections as close

    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close()
