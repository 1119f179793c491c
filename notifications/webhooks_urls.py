"""Twilio webhooks (signature required), included at /webhooks/."""

from django.urls import path

from notifications import webhooks

app_name = "webhooks"
urlpatterns = [
    path("twilio/status/", webhooks.twilio_status, name="twilio-status"),
    path("twilio/call-status/", webhooks.twilio_call_status, name="twilio-call-status"),
    path("twilio/call-key/", webhooks.twilio_call_key, name="twilio-call-key"),
    path("twilio/inbound/", webhooks.twilio_inbound, name="twilio-inbound"),
]
