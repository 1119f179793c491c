"""The base of every operational viewset: role table, JSON-only bounded parser, one clock read per request,
``Idempotency-Key`` on the actions that create."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import viewsets

from reporting.api.idempotency import IdempotentMixin
from reporting.api.parsers import LimitedJSONParser
from reporting.api.permissions import RolePermission
from reporting.api.throttles import SmsThrottle


class ApiViewSet(IdempotentMixin, viewsets.GenericViewSet):
    """``roles`` maps an action to the roles allowed to call it; ``throttled_actions`` can make SMS go out;
    ``idempotent_actions`` create, and accept ``Idempotency-Key`` (``reporting.api.idempotency``).

    ``self.now`` is the one clock reading of the request: services and serializers get it passed in.
    """

    permission_classes = [RolePermission]
    parser_classes = [LimitedJSONParser]
    roles: dict = {}
    throttled_actions: tuple[str, ...] = ()

    def initial(self, request, *args, **kwargs):
        self.now = timezone.now()
        # Filters (``?state=overdue``) read the same moment.
        request.now = self.now
        super().initial(request, *args, **kwargs)

    def get_throttles(self):
        if getattr(self, "action", None) in self.throttled_actions:
            return [SmsThrottle()]
        return []

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["now"] = getattr(self, "now", None) or timezone.now()
        return context
