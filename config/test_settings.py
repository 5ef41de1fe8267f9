"""Settings for the test suite: the same as production, with test-only keys and a fast hasher."""

import os

os.environ.setdefault("ALLOW_INSECURE_DEFAULTS", "1")
os.environ.setdefault("SECURE_COOKIES", "0")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
LANGUAGE_CODE = "en"

# django-axes logs every log-in at INFO: keep test output readable.
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # noqa: F405
