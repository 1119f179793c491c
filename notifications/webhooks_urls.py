"""Twilio webhooks (signature required): filled in by the delivery work."""

urlpatterns: list = []
