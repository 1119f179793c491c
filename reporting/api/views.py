"""Operational API endpoints (API.md): units, contacts, shifts, users, incidents, obligations, reports, signals,
notifications. The audit endpoints (/findings/, /stats/) are registered by ``reporting.api.audit``."""

from reporting.api.views_incidents import (
    IncidentViewSet,
    NotificationViewSet,
    ObligationViewSet,
    ReportViewSet,
    SignalViewSet,
)
from reporting.api.views_org import ContactViewSet, ShiftViewSet, UnitViewSet, UserViewSet

extra_urls: list = []


def register(router) -> None:
    """Register this module's viewsets on the /api/v1/ router."""
    router.register("units", UnitViewSet, basename="unit")
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("shifts", ShiftViewSet, basename="shift")
    router.register("users", UserViewSet, basename="user")
    router.register("incidents", IncidentViewSet, basename="incident")
    router.register("obligations", ObligationViewSet, basename="obligation")
    router.register("reports", ReportViewSet, basename="report")
    router.register("signals", SignalViewSet, basename="signal")
    router.register("notifications", NotificationViewSet, basename="notification")
