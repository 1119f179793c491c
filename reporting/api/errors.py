"""One exception handler: domain errors become 400/409 in DRF's usual shape."""

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from reporting.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response(exc.errors, status=exc.status_code)
    return drf_exception_handler(exc, context)
