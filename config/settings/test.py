"""Test settings: PostgreSQL (never SQLite) and fast password hashing."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tracker")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")

from .base import *  # noqa: E402,F403
from .base import DATABASES  # noqa: E402

if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise RuntimeError("The tests run on PostgreSQL: set DATABASE_URL to a postgres:// URL")

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Integration tests start workers that talk to real peers (Prism, SMTP): they opt in with these variables.
SMS_BACKEND = os.environ.get("TEST_SMS_BACKEND", "notifications.sms.backends.locmem.SmsBackend")
if os.environ.get("TEST_EMAIL_FROM_ENV") != "1":
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
# Tests drop their database at the end: no persistent connections, unless a benchmark's workers ask for them.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("TEST_CONN_MAX_AGE", "0"))
# Django empties tables between transactional tests with TRUNCATE, which reporting's migration 0009 refuses on the
# audit events and reports unless the connection says so: only the tests' connections do.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c reporting.allow_truncate=on"
# Findings recompute inline after commit unless a test asks for the deferred (production) path.
FINDINGS_DEFER_SECONDS = float(os.environ.get("TEST_FINDINGS_DEFER_SECONDS", "0"))
# Tests clear the cache between tests (throttle counters): never the Redis DB the broker uses.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
