"""Audit API endpoints (API.md): /findings/ and /stats/timeliness/."""

extra_urls: list = []


def register(router) -> None:
    """Register this module's viewsets on the /api/v1/ router."""
