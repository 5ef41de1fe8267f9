"""Field encryption for buyer data (Fernet, key from FIELD_ENCRYPTION_KEY) and a keyed digest for equality."""

import base64
import hashlib
import os
import re
import time
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
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


_PADDING = [bytes([size]) * size for size in range(17)]


@lru_cache(maxsize=8)
def _hmac_sha256(key: bytes):
    """HMAC-SHA256 under `key` (RFC 2104) from two hash states keyed once: the same MAC as
    `hmac.digest(key, message, "sha256")`, without setting up the key for every message."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
    outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def mac(message: bytes) -> bytes:
        state = inner.copy()
        state.update(message)
        result = outer.copy()
        result.update(state.digest())
        return result.digest()

    return mac


class FieldCipher:
    """Fernet tokens for many values at a time (a bulk import encrypts millions): the very format
    `encrypt` writes and `decrypt` reads (version, time, a random IV per token, AES-128-CBC with PKCS7
    padding, HMAC-SHA256), made with one AES context instead of a new Fernet context per value.

    One CBC context chains each block to the previous ciphertext block; XOR-ing that block out of a token's
    first plaintext block, and its own random IV in, makes every token exactly a CBC encryption under its
    own IV, as Fernet's."""

    def __init__(self, key: str):
        _fernet(key)  # the same checks (and messages) as `encrypt`
        raw = base64.urlsafe_b64decode(key.encode())
        self._sign = _hmac_sha256(raw[:16])
        self._update = Cipher(algorithms.AES(raw[16:]), modes.CBC(bytes(16))).encryptor().update
        self._chain = 0  # the context's last ciphertext block, as an integer (its IV to begin with)

    def encrypt(self, texts: list[str]) -> list[str]:
        ivs = os.urandom(16 * len(texts))
        header = b"\x80" + int(time.time()).to_bytes(8, "big")
        update, sign, chain = self._update, self._sign, self._chain
        from_bytes, encode = int.from_bytes, base64.urlsafe_b64encode
        tokens = []
        for position, text in enumerate(texts):
            data = text.encode()
            data += _PADDING[16 - len(data) % 16]
            iv = ivs[16 * position : 16 * position + 16]
            first = from_bytes(data[:16], "big") ^ from_bytes(iv, "big") ^ chain
            ciphertext = update(first.to_bytes(16, "big") + data[16:])
            chain = from_bytes(ciphertext[-16:], "big")
            body = header + iv + ciphertext
            tokens.append(encode(body + sign(body)).decode())
        self._chain = chain
        return tokens


_DIGEST_NOISE = re.compile(r"[\s,，。.·-]+")


def digest(text: str) -> str:
    """A keyed digest of normalised text: equal addresses give equal digests, and nothing can be read back."""
    normalised = _DIGEST_NOISE.sub("", text).lower()
    return _hmac_sha256(settings.FIELD_ENCRYPTION_KEY.encode())(normalised.encode()).hex()


class EncryptedTextField(models.TextField):
    """Text stored encrypted; reads give the clear text. Not searchable or sortable, by design."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)
