"""The API's docs page (Swagger UI) and schema: served from our own static files, never a CDN."""

from __future__ import annotations

import re

from django.contrib.staticfiles import finders


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html and "unpkg.com" not in html
    scripts = re.findall(r'<script src="([^"]+)"', html)
    assert scripts and all(src.startswith("/static/") for src in scripts)
    for src in scripts:  # each is a file we ship (drf-spectacular-sidecar)
        assert finders.find(src.removeprefix("/static/").split("?")[0]) is not None, src
