"""Carriers push tracking scans here: `POST /webhooks/carriers/<code>/tracking/`, signed with the carrier's key.

The body is `{"events": [{"tracking_no", "kind", "occurred_at", "location", "description"}, ...]}` and the
header `X-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with Carrier.webhook_secret>`.

- An unknown carrier, a carrier without a key, or a missing or wrong signature: 403, nothing read or stored.
- A body over the limit: 413. Unparseable JSON or a bad event: 400 naming the event and the field; nothing
  of that call is stored (a call is one transaction).
- Otherwise 200 with `{"stored": n, "duplicates": n, "unknown": [tracking numbers with no shipment]}`.
  A scan already stored (a retry, a replay) counts as a duplicate and changes nothing.

Logs hold the carrier code and counts, never a tracking number or anything about the buyer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from datetime import datetime

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from merchants.errors import ActionForbidden
from orders.bulk import (
    SCAN_CLOCK_TOLERANCE,
    ScanData,
    scan_time,
    scans_record,
    shipments_by_tracking,
    tracking_kind,
)
from orders.models import Carrier, TrackingEvent
from orders.services import normalise_tracking_no

logger = logging.getLogger(__name__)

WEBHOOK_MAX_BYTES = 1024 * 1024
SIGNATURE_PREFIX = "sha256="


class EventError(ValueError):
    def __init__(self, index: int | None, field: str, message: str):
        self.index, self.field, self.message = index, field, message
        super().__init__(message)

    def as_json(self) -> dict:
        where = self.field if self.index is None else f"events[{self.index}].{self.field}"
        return {"error": f"{where}: {self.message}", "index": self.index, "field": self.field}


def body_signature(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(*, carrier: Carrier | None, body: bytes, header: str) -> bool:
    if carrier is None or not carrier.webhook_secret or not header:
        return False
    expected = body_signature(carrier.webhook_secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace"))


@transaction.atomic
def carrier_webhook_secret_rotate(*, carrier: Carrier, actor=None) -> str:
    """Give the carrier a new signing key; calls signed with the old one are refused from now on."""
    if actor is not None and not actor.has_perm("orders.change_carrier"):
        raise ActionForbidden(_("You do not have the permission to change carriers."))
    carrier = Carrier.objects.select_for_update().get(pk=carrier.pk)
    carrier.webhook_secret = secrets.token_hex(32)
    carrier.save(update_fields=["webhook_secret"])
    logger.info("carrier %s: webhook secret rotated", carrier.code)
    return carrier.webhook_secret


def _text(event: dict, index: int, name: str, max_length: int, *, required: bool = False) -> str:
    value = event.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise EventError(index, name, "must be a string")
    if required and not value.strip():
        raise EventError(index, name, "required")
    if len(value) > max_length:
        raise EventError(index, name, f"at most {max_length} characters")
    return value.strip()


def scans_parse(payload, *, now: datetime) -> list[ScanData]:
    """The events of a webhook body as scans; EventError names the first bad event and field."""
    if not isinstance(payload, dict):
        raise EventError(None, "body", "must be a JSON object with an `events` list")
    events = payload.get("events")
    if not isinstance(events, list):
        raise EventError(None, "events", "must be a list")
    scans = []
    for index, event in enumerate(events):
        if not isinstance(event, dict):
            raise EventError(index, "event", "must be a JSON object")
        tracking_no = normalise_tracking_no(_text(event, index, "tracking_no", 40, required=True))
        if not tracking_no:
            raise EventError(index, "tracking_no", "required")
        kind = tracking_kind(_text(event, index, "kind", 20, required=True))
        if kind is None:
            raise EventError(index, "kind", "must be one of " + ", ".join(TrackingEvent.Kind.values))
        occurred_at = scan_time(_text(event, index, "occurred_at", 40, required=True), default_zone=None)
        if occurred_at is None:
            raise EventError(index, "occurred_at", "must be an ISO-8601 time with a UTC offset")
        if occurred_at > now + SCAN_CLOCK_TOLERANCE:
            raise EventError(index, "occurred_at", "is in the future")
        scans.append(
            ScanData(
                tracking_no=tracking_no,
                kind=kind,
                occurred_at=occurred_at,
                location=_text(event, index, "location", 100),
                description=_text(event, index, "description", 300),
                consignee_address=_text(event, index, "consignee_address", 300),
            )
        )
    return scans


def _forbidden() -> JsonResponse:
    # The same answer for an unknown carrier and a bad signature: which carrier codes exist is not told.
    return JsonResponse({"error": "forbidden"}, status=403)


def _read_body(request: HttpRequest) -> bytes | None:
    """The raw body, or None when it is over the limit (declared or actual)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > WEBHOOK_MAX_BYTES:
        return None
    # The WSGI stream stops at the declared length, so this reads at most the limit.
    body = request.body
    return None if len(body) > WEBHOOK_MAX_BYTES else body


@csrf_exempt
@require_POST
def carrier_tracking_webhook(request: HttpRequest, code: str) -> JsonResponse:
    body = _read_body(request)
    if body is None:
        logger.warning("tracking webhook %.20s: body over %d bytes", code, WEBHOOK_MAX_BYTES)
        return JsonResponse({"error": "body too large"}, status=413)
    carrier = Carrier.objects.filter(code=code).first()
    if not signature_valid(carrier=carrier, body=body, header=request.headers.get("X-Signature", "")):
        logger.warning("tracking webhook %.20s: refused (unknown carrier or bad signature)", code)
        return _forbidden()
    now = timezone.now()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "body: not valid JSON", "index": None, "field": "body"}, status=400)
    try:
        scans = scans_parse(payload, now=now)
    except EventError as error:
        logger.info("tracking webhook %s: refused event %s field %s", carrier.code, error.index, error.field)
        return JsonResponse(error.as_json(), status=400)
    with transaction.atomic():
        shipments = shipments_by_tracking((carrier.pk, scan.tracking_no) for scan in scans)
        outcomes = scans_record(carrier=carrier, scans=scans, shipments=shipments, source="webhook")
    unknown = list(
        dict.fromkeys(scan.tracking_no for scan, o in zip(scans, outcomes, strict=True) if o is None)
    )
    stored = sum(1 for o in outcomes if o is True)
    duplicates = sum(1 for o in outcomes if o is False)
    logger.info(
        "tracking webhook %s: %d stored, %d duplicates, %d unknown",
        carrier.code,
        stored,
        duplicates,
        len(unknown),
    )
    return JsonResponse({"stored": stored, "duplicates": duplicates, "unknown": unknown})
