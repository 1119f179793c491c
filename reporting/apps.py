from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportingConfig(AppConfig):
    name = "reporting"
    verbose_name = _("信息报送")

    def ready(self) -> None:
        # Audit findings as events happen (report filed, clocks changed).
        from reporting import receivers  # noqa: F401
