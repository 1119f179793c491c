"""Chinese first: the pages speak zh-hans unless the user chose English with the switcher.

Django's LocaleMiddleware would follow the browser's Accept-Language, so a wall-screen PC with an English system
would show the duty room an English board. For the web pages only the language cookie (set by /i18n/setlang/)
counts; the API and webhooks keep Django's usual negotiation.

A page also pins the language it was shown in as the cookie when the browser has none. The page's downloads (the
audit page's CSV and XLSX come from the API) then speak the page's language: Django's negotiation reads the cookie
before Accept-Language, so an auditor whose browser is English, looking at a Chinese page, gets Chinese files.
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

    def process_response(self, request, response):
        response = super().process_response(request, response)
        name, shown = settings.LANGUAGE_COOKIE_NAME, getattr(request, "LANGUAGE_CODE", None)
        if (
            shown
            and not request.path_info.startswith(NEGOTIATED_PREFIXES)
            and request.COOKIES.get(name) != shown
            and name not in response.cookies  # the switcher (/i18n/setlang/) just set it
        ):
            response.set_cookie(
                name,
                shown,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )
        return response
