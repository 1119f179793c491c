"""JSON only, and never more than DATA_UPLOAD_MAX_MEMORY_SIZE (1 MiB): DRF's parsers read the raw stream and
would otherwise skip Django's own limit."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework.parsers import JSONParser

from reporting.api.errors import RequestTooLarge


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise RequestTooLarge()
        if limit is not None and stream is not None:
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise RequestTooLarge()
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
