"""Settings, read from environment variables with defaults that work on a laptop.

DATABASE_URL        default: SQLite file db.sqlite3 in the project
CELERY_BROKER_URL   default: unset, tasks run in-process (eager)
SECRET_KEY          required unless DEBUG
DEBUG               "1"/"true" to enable; default true for local runs (make run sets it)
ALLOWED_HOSTS       comma separated
FIELD_ENCRYPTION_KEY  Fernet key; a fixed demo key only when DEBUG
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG and not env_bool("ALLOW_INSECURE_DEFAULTS", False):
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off (or set DEBUG=1 for a laptop run)")
    SECRET_KEY = "insecure-local-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY") or ""
if not FIELD_ENCRYPTION_KEY and (DEBUG or env_bool("ALLOW_INSECURE_DEFAULTS", False)):
    # Demo key: only ever used on a laptop or in tests.
    FIELD_ENCRYPTION_KEY = "ZGVtby1rZXktZm9yLWxvY2FsLXJ1bnMtb25seS0wMDA="

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm",
    "import_export",
    "axes",
    "merchants",
    "orders",
    "complaints",
    "inspections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Wait for a lock instead of failing at once when the dev server and a command write together.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock an account+address after repeated failures.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))

# Uploads: spreadsheets are read in memory up to this size; larger files are refused with a message.
# Seller notifications by e-mail: printed to the console unless a backend is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "back-office@example.com")
# The call system signs its webhook calls with this key (empty: every call is refused).
CALL_SYSTEM_WEBHOOK_SECRET = os.environ.get("CALL_SYSTEM_WEBHOOK_SECRET", "")

LISTING_UPLOAD_MAX_BYTES = int(os.environ.get("LISTING_UPLOAD_MAX_BYTES", str(5 * 1024 * 1024)))
# Order files for the import page and the admin import (the import_orders command has no limit).
ORDER_IMPORT_MAX_BYTES = int(os.environ.get("ORDER_IMPORT_MAX_BYTES", str(100 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Celery: without a broker, tasks run in-process so a laptop needs nothing else.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or None
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
# A request that queues work must not hang when the broker is down: try briefly, then give up (the caller
# logs it and the scheduled checks catch the work up; see merchants/queue.py).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE: dict = {
    "deposit-shortfall": {"task": "merchants.tasks.deposit_shortfall_check", "schedule": 3600.0},
    "sanction-expiry": {"task": "merchants.tasks.sanction_expiry_check", "schedule": 3600.0},
    "late-dispatch": {"task": "orders.tasks.late_dispatch_check", "schedule": 300.0},
    "tracking": {"task": "orders.tasks.tracking_check", "schedule": 300.0},
    # Import jobs left queued while the broker was down, and jobs whose worker died.
    "import-jobs": {"task": "orders.tasks.import_jobs_catch_up_check", "schedule": 60.0},
    "lost-contact": {"task": "complaints.tasks.lost_contact_check", "schedule": 300.0},
    "fraudulent-dispatch": {"task": "complaints.tasks.fraudulent_dispatch_check", "schedule": 600.0},
    "complaint-reply-deadline": {
        "task": "complaints.tasks.complaint_reply_deadline_check",
        "schedule": 300.0,
    },
    # Owners are told a day ahead (rule table); checking every 15 minutes is timely enough.
    "appeal-window-closing": {"task": "complaints.tasks.appeal_window_closing_check", "schedule": 900.0},
    # Notification e-mails lost while the broker was down.
    "notification-emails": {"task": "complaints.tasks.notification_emails_check", "schedule": 300.0},
    # Daily, just after midnight in Asia/Shanghai (16:05 UTC); a store in a later time zone is caught the
    # next day. Both are idempotent, so a missed or repeated run changes nothing.
    "settlement-release": {
        "task": "merchants.tasks.settlement_release_check",
        "schedule": crontab(minute=5, hour=16),
    },
    # Weekly, Monday 09:00 in Asia/Shanghai: the spot-check sampling round (once per ISO week by its cause).
    "spot-check-sampling": {
        "task": "inspections.tasks.sampling_weekly_round",
        "schedule": crontab(minute=0, hour=1, day_of_week="mon"),
    },
    "point-year-rollover": {
        "task": "merchants.tasks.point_year_rollover_check",
        "schedule": crontab(minute=10, hour=16),
    },
    # The late rate is judged over complete days in Asia/Shanghai.
    "late-rate": {"task": "orders.tasks.late_rate_check", "schedule": crontab(minute=15, hour=16)},
    # The experience score of the day that just ended (Asia/Shanghai), after the day's other checks.
    "experience-score": {
        "task": "merchants.tasks.experience_score_check",
        "schedule": crontab(minute=30, hour=16),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
