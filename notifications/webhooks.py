"""Twilio webhooks: message and call status callbacks, inbound replies and keys pressed during a call. All require a
valid ``X-Twilio-Signature``.

The signature is computed over the public URL (``PUBLIC_BASE_URL`` + path), not the one Django sees, so it holds
behind a TLS-terminating proxy. With no ``TWILIO_AUTH_TOKEN`` configured nothing can be verified: 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from notifications import callbacks
from notifications.models import Notification, NotificationStatus, ProviderRequestSeen
from notifications.sms.backends.twilio import call_key_answer
from reporting.text import CONTROL_MESSAGE, has_control_characters


def signature_valid(request) -> bool:
    token = settings.TWILIO_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    return RequestValidator(token).validate(url, request.POST, signature)


def _forbidden() -> HttpResponse:
    return HttpResponseForbidden("签名无效 (invalid X-Twilio-Signature)", content_type="text/plain; charset=utf-8")


def _malformed(request, *fields: str) -> HttpResponse | None:
    """A 400 naming the first of ``fields`` that holds a control character (``reporting.text``'s one rule), else None.

    Twilio never sends one, and PostgreSQL refuses NUL outright (DataError): looked up as it came, it would answer
    500, which Twilio retries. A 4xx is not retried, and the request is malformed rather than about an unknown
    message, like a missing field."""
    for field in fields:
        if has_control_characters(request.POST.get(field)):
            return HttpResponseBadRequest(f"{field}: {CONTROL_MESSAGE}", content_type="text/plain; charset=utf-8")
    return None


@csrf_exempt
@require_POST
def twilio_status(request):
    """MessageSid, MessageStatus, ErrorCode → the notification's status moves forward; 204 in every valid case
    (an unknown sid is not an error Twilio could fix by retrying: a delivered/undelivered/failed one is kept until
    the worker records that sid, see ``callbacks.notification_record_status``)."""
    return _status_callback(request, sid_field="MessageSid", status_field="MessageStatus")


@csrf_exempt
@require_POST
def twilio_call_status(request):
    """CallSid, CallStatus, AnsweredBy (the voice channel: Twilio's ``completed`` event, with machine detection's
    verdict, see ``sms.backends.twilio.call_params``; other events are understood too) → the notification's status
    moves forward: in-progress/completed → delivered, unless a machine answered (voicemail, a fax: undelivered);
    busy/no-answer → undelivered, failed/canceled → failed; undelivered and failed send the fallback SMS to the same
    person. 204 in every valid case, as for a message (an unknown sid's final status is kept until the worker
    records it); a machine's answer is stored in the notification's error."""
    return _status_callback(request, sid_field="CallSid", status_field="CallStatus", answered_by_field="AnsweredBy")


def _status_callback(request, *, sid_field: str, status_field: str, answered_by_field: str = ""):
    """A signed status callback of a message or a call: its id and status, and ErrorCode (stored in the
    notification's error on undelivered/failed, so checked for control characters too); for a call, AnsweredBy
    too (a machine's answer is recorded as ``callbacks.MACHINE_STATUS``, with the verdict as its error code)."""
    if not signature_valid(request):
        return _forbidden()
    fields = (sid_field, status_field, "ErrorCode", *([answered_by_field] if answered_by_field else []))
    if malformed := _malformed(request, *fields):
        return malformed
    sid, status = request.POST.get(sid_field, "").strip(), request.POST.get(status_field, "").strip()
    if not sid or not status:
        return HttpResponseBadRequest(f"缺少 {sid_field} 或 {status_field}", content_type="text/plain; charset=utf-8")
    error_code = request.POST.get("ErrorCode", "")
    if answered_by_field:
        answered_by = request.POST.get(answered_by_field, "").strip()
        if (seen := callbacks.call_status_seen(status, answered_by)) != status:
            status, error_code = seen, answered_by
    callbacks.notification_record_status(
        provider_id=sid, provider_status=status, error_code=error_code, now=timezone.now()
    )
    return HttpResponse(status=204)


@csrf_exempt
@require_POST
def twilio_call_key(request):
    """CallSid, Digits: the key pressed during a call (``<Gather>``, ``sms.backends.twilio.call_twiml``). 1
    acknowledges the call, as a reply to an SMS does (``callbacks.call_acknowledge``); once per call (a replay is
    answered without acting). Answers TwiML the call says."""
    if not signature_valid(request):
        return _forbidden()
    if malformed := _malformed(request, "CallSid", "Digits"):
        return malformed
    sid, digits = request.POST.get("CallSid", "").strip(), request.POST.get("Digits", "").strip()
    if not sid:
        return HttpResponseBadRequest("缺少 CallSid", content_type="text/plain; charset=utf-8")
    acknowledged: bool | None = None
    if digits == "1":
        with transaction.atomic():
            if _seen_before(sid):  # Twilio retrying, or a replay: answered as the call stands, nothing done
                acknowledged = Notification.objects.filter(
                    provider_id=sid, status=NotificationStatus.ACKNOWLEDGED
                ).exists()
            else:
                acknowledged = bool(callbacks.call_acknowledge(call_sid=sid, now=timezone.now()))
    return HttpResponse(call_key_answer(acknowledged), content_type="text/xml; charset=utf-8")


#: How long a provider request acted on is remembered (``ProviderRequestSeen``): long past Twilio's retries and the
#: life of any SMS it could acknowledge.
SEEN_KEPT_DAYS = 30


def _seen_before(provider_id: str) -> bool:
    """True when this reply or key press was already acted on (a replay, or Twilio retrying); no id: nothing to
    remember. Call it inside the transaction that acts on the request: should that fail, the request was not seen."""
    if not provider_id:
        return False
    now = timezone.now()
    ProviderRequestSeen.objects.filter(seen_at__lt=now - timedelta(days=SEEN_KEPT_DAYS)).delete()
    try:
        with transaction.atomic():
            ProviderRequestSeen.objects.create(provider_id=provider_id, seen_at=now)
    except IntegrityError:
        return True
    return False


@csrf_exempt
@require_POST
def twilio_inbound(request):
    """From, Body: ``1``/``收到``/``OK`` acknowledges the most recent SMS sent to that phone. Answers TwiML."""
    if not signature_valid(request):
        return _forbidden()
    # Not Body: it is only compared with the acknowledgement words, never stored, and a reply is not refused for it.
    if malformed := _malformed(request, "From", "MessageSid"):
        return malformed
    phone, text = request.POST.get("From", "").strip(), request.POST.get("Body", "")
    if not phone:
        return HttpResponseBadRequest("缺少 From", content_type="text/plain; charset=utf-8")
    reply = MessagingResponse()
    if not callbacks.is_ack_reply(text):
        reply.message("回复 1、收到 或 OK 确认催报短信；报送请使用短信中的链接。")
        return HttpResponse(str(reply), content_type="text/xml; charset=utf-8")
    with transaction.atomic():
        if _seen_before(request.POST.get("MessageSid", "").strip()):
            acked = None
        else:
            acked = callbacks.notifications_acknowledge(phone=phone, now=timezone.now())
    if acked:
        reply.message(f"已确认收到催报({acked[0].incident.number})，请尽快报送。")
    elif acked is None:
        reply.message("回复 1、收到 或 OK 确认催报短信；报送请使用短信中的链接。")
    else:
        reply.message("未找到需要确认的催报短信。")
    return HttpResponse(str(reply), content_type="text/xml; charset=utf-8")
