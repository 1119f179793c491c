"""Web pages (board, filing form, auditor page)."""

urlpatterns: list = []
