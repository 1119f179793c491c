"""Chinese first: the pages speak zh-hans unless the user chose English with the switcher.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a wall-screen PC with an English system
would show the duty room an English board. For the web pages only the language cookie (set by /i18n/setlang/)
counts; the API and webhooks keep Django's usual negotiation.
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation

#: Paths where clients negotiate the language as usual (Accept-Language).
NEGOTIATED_PREFIXES = ("/api/", "/webhooks/", "/healthz")


class LocaleMiddleware(DjangoLocaleMiddleware):
    def process_request(self, request):
        if request.path_info.startswith(NEGOTIATED_PREFIXES):
            return super().process_request(request)
        supported = {code for code, _name in settings.LANGUAGES}
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or settings.LANGUAGE_CODE
        if language not in supported:
            language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
