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
SMS_BACKEND = "notifications.sms.backends.locmem.SmsBackend"
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
DATABASES["default"]["CONN_MAX_AGE"] = 0
