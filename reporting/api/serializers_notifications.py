"""Notifications as the API shows them (read only; written by the chasing code in ``notifications``)."""

from __future__ import annotations

from rest_framework import serializers

from notifications.models import Notification
from reporting.api.fields import ModelSerializer


class NotificationSerializer(ModelSerializer):
    step = serializers.CharField(read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "incident",
            "obligation",
            "step",
            "repeat",
            "channel",
            "recipient",
            "to",
            "status",
            "provider_id",
            "scheduled_for",
            "sent_at",
            "delivered_at",
            "acknowledged_at",
            "error",
        ]
        read_only_fields = fields
