"""The page a refused form submission (CSRF check failed) shows: Django's own is a technical page that tells a
duty officer to set DEBUG=True. Here it says, in the page's language, that nothing was submitted, why it usually
happens (the page was open too long, a sign-in in another tab, cookies off) and what to do.

A report typed into the filing form is not lost: when the refused POST came from this site (its ``Origin`` is
ours), it is kept like a report typed while the session ended (``reporting.web.filing``) and the page leads back
to the form, where it is shown again, unfiled, to the user the form was shown to only (a sign-in as someone else
in another tab is a usual cause of the refusal). A POST from elsewhere keeps nothing (it could plant text in the
victim's form)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.urls import Resolver404, resolve

from reporting.web import filing

FILING_VIEWS = frozenset({"web:file", "web:file-link"})


def _same_origin(request) -> bool:
    """The POST came from this site: its own address, or one of ``CSRF_TRUSTED_ORIGINS`` (a proxy in front that
    gives the site another name than the one the request reaches it by)."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    return origin == f"{request.scheme}://{request.get_host()}" or origin in settings.CSRF_TRUSTED_ORIGINS


def csrf_failure(request, reason: str = ""):
    back = None
    try:
        view = resolve(request.path_info).view_name
    except Resolver404:
        view = ""
    if request.method == "POST" and view in FILING_VIEWS and _same_origin(request) and filing.keep_typed(request):
        back = request.get_full_path()
    return render(request, "web/csrf_failure.html", {"back": back}, status=403)
