"""Operational API endpoints (API.md): units, contacts, shifts, users, incidents, obligations, reports, signals,
notifications."""

extra_urls: list = []


def register(router) -> None:
    """Register this module's viewsets on the /api/v1/ router."""
