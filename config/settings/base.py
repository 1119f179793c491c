"""Settings, every value read from the environment (see the README's table).

The embedded defaults make `make run` work on a fresh machine with nothing else running:
SQLite and kombu's filesystem transport under `var/`, SMS and email to the console.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be 0 or 1, not {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
# Only for development: production.py refuses to start without a real SECRET_KEY.
SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# A refused form says so in the page's language, and keeps a typed report (reporting.web.csrf).
CSRF_FAILURE_VIEW = "reporting.web.csrf.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    # Before auth and DRF's authtoken: its createsuperuser, changepassword and drf_create_token (audited) are the
    # ones manage.py runs (the first app with a command's name wins).
    "reporting.apps.ReportingConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "notifications.apps.NotificationsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A kept connection is checked before its first use in a request or task: one the server dropped (a
        # restart, a failover) is replaced instead of failing that request or task.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # web, worker and beat share one SQLite file in the embedded mode: wait for locks
    # instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "reporting.User"

# Sign-in: wrong passwords per (username, address) before that pair is refused, and for how long (reporting.web.login).
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "10"))
LOGIN_LOCK_SECONDS = int(os.environ.get("LOGIN_LOCK_SECONDS", "900"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request while it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/admin/login/"

# Request bodies over 1 MiB are refused (API.md: oversized body -> 413).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "reporting.api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "reporting.api.errors.exception_handler",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%SZ",
    "DEFAULT_THROTTLE_RATES": {
        "sms": os.environ.get("THROTTLE_SMS_RATE", "120/min"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Incident reporting deadline tracker API",
    "DESCRIPTION": "突发事件信息报送时限跟踪 — public REST API v1",
    "VERSION": "1.0.0",
    "COMPONENT_SPLIT_REQUEST": True,
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ serves Swagger UI from our own static files, not a CDN: the product runs on a government network
    # that may not reach one, and a script from another origin on our own would see the signed-in user's pages.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# The cache holds the SMS throttle's counters and the findings recompute's debounce keys: shared by every web and
# worker process through Redis when there is one (CACHE_URL, else REDIS_URL), per process otherwise (embedded run).
# Every Redis client (cache, broker, wake-ups) gives up on a command after this long: a Redis that hangs (stopped, a
# failover, a firewall dropping an open connection's packets) otherwise holds a request until gunicorn kills it
# (30 s, a 500 for an incident already committed) and holds beat for ever.
REDIS_SOCKET_TIMEOUT_SECONDS = 2.0
_REDIS_TIMEOUTS = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
}
_cache_url = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL")
CACHES = {
    "default": (
        {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "tracker",
            "OPTIONS": _REDIS_TIMEOUTS,
        }
        if _cache_url
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Celery: Redis in production; kombu's filesystem transport under var/ when nothing is configured.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://", "unix://")):
    # kombu's Redis transport waits for ever by default (its docs: set it when the broker can vanish without closing
    # the connection). Consuming is not affected: BRPOP runs in the event loop with its own health check.
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(_REDIS_TIMEOUTS)
# The sweep has a queue of its own: a burst of thousands of send tasks must never delay the next sweep (the
# deadline checker) behind them. A worker started without -Q consumes both queues.
CELERY_TASK_QUEUES = (Queue("sweep"), Queue("celery"))
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {"notifications.tasks.sweep": {"queue": "sweep"}}
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
# Celery's Django fixup closes the database connection before and after every task unless this is set: each task
# then started a new PostgreSQL backend (fork, authentication, catalog caches), ~2 ms of CPU per SMS in a burst.
# Set, the fixup closes only every this many tasks, and CONN_MAX_AGE decides (config.celery_app, as a request would).
CELERY_DB_REUSE_MAX = 1000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker retries the broker for as long as it is down (Celery's default gives up after 100 attempts, about 46
# minutes, and the worker then exits with status 0: chasing would not resume when Redis came back).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

SWEEP_INTERVAL_SECONDS = float(os.environ.get("SWEEP_INTERVAL_SECONDS", "5"))
CELERY_BEAT_SCHEDULE = {
    # The deadline checker: the database is the source of truth; this sweep finds every due step.
    "sweep-deadlines": {
        "task": "notifications.tasks.sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": max(SWEEP_INTERVAL_SECONDS * 2, 10)},
    },
    # Audit findings: the idempotent recompute (漏报 after 24 h, signals never reported on, ...).
    "recompute-findings": {
        "task": "reporting.tasks.recompute_findings",
        "schedule": float(os.environ.get("FINDINGS_INTERVAL_SECONDS", "300")),
        "options": {"expires": 600},
    },
    # The daily 值班表 reminder: acts once a day per unit from ROSTER_REMINDER_HOUR; half-hourly so a late beat
    # still sends it that day.
    "roster-reminders": {
        "task": "notifications.tasks.roster_reminders",
        "schedule": 1800.0,
        "options": {"expires": 1700},
    },
    # Expired Idempotency-Key records, hourly: one indexed DELETE (reporting.idempotency_services).
    "purge-idempotency-keys": {
        "task": "reporting.tasks.purge_idempotency_keys",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    # The audit chain's head in the logs, hourly: anchors outside the database for verify_audit_chain --anchor.
    "log-audit-chain-head": {
        "task": "reporting.tasks.log_audit_chain_head",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}
# Shanghai hour (0-23) from which units with a 双人在岗 gap in the next 24 hours are emailed; "off" disables it.
_reminder_hour = os.environ.get("ROSTER_REMINDER_HOUR", "16").strip().lower()
ROSTER_REMINDER_HOUR = None if _reminder_hour in ("", "off", "none") else _reminder_hour
if ROSTER_REMINDER_HOUR is not None:
    if not ROSTER_REMINDER_HOUR.isdigit() or not 0 <= int(ROSTER_REMINDER_HOUR) <= 23:
        raise ImproperlyConfigured(f"ROSTER_REMINDER_HOUR must be an hour from 0 to 23, or off, not {_reminder_hour!r}")
    ROSTER_REMINDER_HOUR = int(ROSTER_REMINDER_HOUR)

# SMS and email
SMS_BACKEND = os.environ.get("SMS_BACKEND", "notifications.sms.backends.console.SmsBackend")
SMS_FILE_PATH = os.environ.get("SMS_FILE_PATH", str(VAR_DIR / "sms"))
SMS_RATE_PER_SECOND = float(os.environ.get("SMS_RATE_PER_SECOND", "30"))
# Voice calls (the voice channel) have their own rate: Twilio's default is one call per second per account.
VOICE_RATE_PER_SECOND = float(os.environ.get("VOICE_RATE_PER_SECOND", "1"))
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = os.environ.get("TWILIO_FROM_NUMBER", "")
TWILIO_MESSAGING_SERVICE_SID = os.environ.get("TWILIO_MESSAGING_SERVICE_SID", "")
TWILIO_API_BASE_URL = os.environ.get("TWILIO_API_BASE_URL", "")
if TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN and "SMS_BACKEND" not in os.environ:
    SMS_BACKEND = "notifications.sms.backends.twilio.SmsBackend"


# Email: Django 6.1's MAILERS, built from the EMAIL_* environment variables.
def mailers_from_env(default_backend: str) -> dict[str, dict[str, object]]:
    backend = os.environ.get("EMAIL_BACKEND", default_backend)
    options: dict[str, object] = {}
    if backend.endswith("smtp.EmailBackend"):
        options = {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "timeout": 10,
        }
    return {"default": {"BACKEND": backend, "OPTIONS": options}}


MAILERS = mailers_from_env("django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "duty-tracker@localhost")
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

# Reporting rules that are settings rather than policy data.
MISSED_AFTER_HOURS = float(os.environ.get("MISSED_AFTER_HOURS", "24"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # The twilio SDK logs every request at INFO: the URL (a lookup's To= phone number), the headers, the answer's
        # headers. Phone numbers do not belong in the logs; our own lines (notifications.delivery's failure_log) say
        # which notification failed and why. TWILIO_LOG_LEVEL=INFO brings the SDK's lines back to debug a deployment.
        "twilio": {"level": os.environ.get("TWILIO_LOG_LEVEL", "WARNING")},
    },
}

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded SQLite mode cannot hold NULLS NOT DISTINCT; PostgreSQL (production, tests) does.
    SILENCED_SYSTEM_CHECKS = ["models.W047"]

# web UI
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# --- API (issue 4): every operation documents its error responses (reporting/api/schema.py).
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "reporting.api.schema.ApiAutoSchema"
# One OpenAPI enum per choice set, named after its TextChoices (spectacular --fail-on-warn in CI).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = {
    "UnitKindEnum": "reporting.models.choices.UnitKind",
    "DomainEnum": "reporting.models.choices.Domain",
    "RoleEnum": "reporting.models.choices.Role",
    "ContactRoleEnum": "reporting.models.choices.ContactRole",
    "GradeEnum": "reporting.models.choices.Grade",
    "ChannelEnum": "reporting.models.choices.Channel",
    "SignalSourceEnum": "reporting.models.choices.SignalSource",
    "ObligationKindEnum": "reporting.models.choices.ObligationKind",
    "DeadlineStateEnum": "reporting.models.choices.DeadlineState",
    "ReportKindEnum": "reporting.models.choices.ReportKind",
    "FindingKindEnum": "reporting.models.choices.FindingKind",
    "ReviewStateEnum": "reporting.models.choices.ReviewState",
    "NotificationChannelEnum": "notifications.models.NotificationChannel",
    "NotificationStatusEnum": "notifications.models.NotificationStatus",
}

# web UI (language, board)
# The pages are Chinese first whatever the browser says; English only through the switcher (reporting/web/middleware).
MIDDLEWARE = [
    "reporting.web.middleware.LocaleMiddleware" if m == "django.middleware.locale.LocaleMiddleware" else m
    for m in MIDDLEWARE
]
BOARD_POLL_SECONDS = float(os.environ.get("BOARD_POLL_SECONDS", "5"))
# The wall screen (/board/?wall=1) holds each page of rows this long before turning to the next.
BOARD_WALL_PAGE_SECONDS = float(os.environ.get("BOARD_WALL_PAGE_SECONDS", "15"))

# Chasing (sweep re-drive): a send claim older than this belongs to a dead worker (notifications.delivery), and the
# sweep re-enqueues pending rows older than NOTIFICATION_REDRIVE_AFTER_SECONDS that no live worker holds.
NOTIFICATION_CLAIM_STALE_SECONDS = float(os.environ.get("NOTIFICATION_CLAIM_STALE_SECONDS", "60"))
NOTIFICATION_REDRIVE_AFTER_SECONDS = float(os.environ.get("NOTIFICATION_REDRIVE_AFTER_SECONDS", "30"))

# Idempotency-Key on the creating POSTs (reporting.idempotency_services): a key's answer is kept this long, and a
# request still in progress holds its key this long before a retry may take it over (a process that died). The
# lease must outlast the longest request (gunicorn's worker timeout, 30 s by default).
IDEMPOTENCY_KEY_TTL_SECONDS = float(os.environ.get("IDEMPOTENCY_KEY_TTL_SECONDS", str(24 * 3600)))
IDEMPOTENCY_KEY_LEASE_SECONDS = float(os.environ.get("IDEMPOTENCY_KEY_LEASE_SECONDS", "60"))

# Audit findings after a change are recomputed by a worker, at most once per incident every this many seconds
# (0: inline right after commit). See reporting.receivers.
FINDINGS_DEFER_SECONDS = float(os.environ.get("FINDINGS_DEFER_SECONDS", "5"))
# Audit findings: the beat recompute looks back this many days (older incidents change only through events,
# which recompute them within seconds; reporting.tasks.recompute_findings).
FINDINGS_RECOMPUTE_DAYS = float(os.environ.get("FINDINGS_RECOMPUTE_DAYS", "7"))
