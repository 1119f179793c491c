from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("催报与通知")

    def ready(self) -> None:
        from notifications import checks, receivers  # noqa: F401  (deploy checks; connects to reporting.hooks)
