"""One exception handler: domain errors become 400/409 in DRF's usual shape; bad input never becomes a 500.

400 bodies always map a field (or ``non_field_errors``) to a list of messages (API.md "Errors").
"""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reporting.errors import DomainError
from reporting.models.reports import ReportImmutableError


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "请求体超过 1 MiB 上限 (request body larger than 1 MiB)"
    default_code = "request_too_large"


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.errors, status=exc.status_code, headers=getattr(exc, "headers", None))
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    if isinstance(exc, ParseError):
        return Response(
            {"non_field_errors": [f"请求体不是有效的 JSON (malformed JSON): {exc.detail}"]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, ProtectedError):
        return Response(
            {"non_field_errors": ["该记录已被其他记录引用, 不能删除 (still referenced by other records)"]},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ReportImmutableError):
        return Response({"detail": "已报送的报告不能修改或删除 (filed reports are never changed)"}, status=405)
    if isinstance(exc, DataError):
        # A value the validators let through but the database refuses: still the client's input, never a 500.
        return Response(
            {"non_field_errors": ["数据超出允许范围 (a value is out of the allowed range)"]},
            status=status.HTTP_400_BAD_REQUEST,
        )
    return drf_exception_handler(exc, context)
