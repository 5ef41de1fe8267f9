"""Field encryption for buyer data (Fernet, key from FIELD_ENCRYPTION_KEY) and a keyed digest for equality."""

import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(key: str) -> Fernet:
    if not key:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not set: buyer data cannot be stored.")
    try:
        return Fernet(key.encode())
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64 bytes)."
        ) from exc


def encrypt(text: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "Buyer data cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."
        ) from exc


def digest(text: str) -> str:
    """A keyed digest of normalised text: equal addresses give equal digests, and nothing can be read back."""
    normalised = re.sub(r"[\s,，。.·-]+", "", text).lower()
    return hmac.new(settings.FIELD_ENCRYPTION_KEY.encode(), normalised.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """Text stored encrypted; reads give the clear text. Not searchable or sortable, by design."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
