"""The call system reports call attempts here: `POST /webhooks/calls/`, signed like the carriers' calls.

Body: `{"calls": [{"call_id", "store_code", "order_no", "called_at", "connected"}, ...]}`; header
`X-Signature: sha256=<hex HMAC-SHA256 of the raw body keyed with settings.CALL_SYSTEM_WEBHOOK_SECRET>`.

- No secret configured, a missing or wrong signature: 403, nothing read or stored.
- A body over the limit: 413. Bad JSON or a bad call: 400 naming the call and the field; nothing of that
  request is stored (one transaction).
- Otherwise 200 with `{"stored": n, "duplicates": n, "unknown": [call ids whose order is unknown]}`. A call
  already stored (same call id, a retry) is a duplicate and changes nothing.

Logs hold counts only, never a phone number or an order number.
"""

from __future__ import annotations

import hmac
import json
import logging
import os

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from complaints.models import CallAttempt
from complaints.services import CLOCK_TOLERANCE, call_attempt_record
from orders.bulk import scan_time
from orders.models import Order
from orders.webhooks import EventError, _read_body, _text, body_signature

logger = logging.getLogger(__name__)


def call_system_secret() -> str:
    return getattr(settings, "CALL_SYSTEM_WEBHOOK_SECRET", "") or os.environ.get(
        "CALL_SYSTEM_WEBHOOK_SECRET", ""
    )


def signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    if not secret or not header:
        return False
    expected = body_signature(secret, body)
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("utf-8", "replace"))


def calls_parse(payload, *, now):
    if not isinstance(payload, dict):
        raise EventError(None, "body", "must be a JSON object with a `calls` list")
    calls = payload.get("calls")
    if not isinstance(calls, list):
        raise EventError(None, "calls", "must be a list")
    parsed = []
    for index, call in enumerate(calls):
        if not isinstance(call, dict):
            raise EventError(index, "call", "must be a JSON object")
        call_id = _text(call, index, "call_id", 64, required=True)
        store_code = _text(call, index, "store_code", 20, required=True)
        order_no = _text(call, index, "order_no", 40, required=True)
        called_at = scan_time(_text(call, index, "called_at", 40, required=True), default_zone=None)
        if called_at is None:
            raise EventError(index, "called_at", "must be an ISO-8601 time with a UTC offset")
        if called_at > now + CLOCK_TOLERANCE:
            raise EventError(index, "called_at", "is in the future")
        connected = call.get("connected")
        if not isinstance(connected, bool):
            raise EventError(index, "connected", "must be true or false")
        parsed.append((call_id, store_code, order_no, called_at, connected))
    return parsed


def _as_json(error: EventError) -> dict:
    where = error.field if error.index is None else f"calls[{error.index}].{error.field}"
    return {"error": f"{where}: {error.message}", "index": error.index, "field": error.field}


@csrf_exempt
@require_POST
def call_system_webhook(request: HttpRequest) -> JsonResponse:
    body = _read_body(request)
    if body is None:
        return JsonResponse({"error": "body too large"}, status=413)
    if not signature_valid(
        secret=call_system_secret(), body=body, header=request.headers.get("X-Signature", "")
    ):
        logger.warning("call webhook: refused (no secret configured or bad signature)")
        return JsonResponse({"error": "forbidden"}, status=403)
    now = timezone.now()
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"error": "body: not valid JSON", "index": None, "field": "body"}, status=400)
    try:
        calls = calls_parse(payload, now=now)
    except EventError as error:
        return JsonResponse(_as_json(error), status=400)
    keys = {(store_code, order_no) for _id, store_code, order_no, _at, _c in calls}
    orders = {
        (o.store.code, o.order_no): o
        for o in Order.objects.filter(
            store__code__in={k[0] for k in keys}, order_no__in={k[1] for k in keys}
        ).select_related("store")
    }
    stored = duplicates = 0
    unknown = []
    with transaction.atomic():
        for call_id, store_code, order_no, called_at, connected in calls:
            order = orders.get((store_code, order_no))
            if order is None:
                unknown.append(call_id)
                continue
            if CallAttempt.objects.filter(external_id=call_id).exists():
                duplicates += 1
                continue
            _call, created = call_attempt_record(
                order=order,
                called_at=called_at,
                connected=connected,
                source=CallAttempt.Source.CALL_SYSTEM,
                external_id=call_id,
                actor=None,
                now=now,
            )
            stored += int(created)
            duplicates += int(not created)
    logger.info("call webhook: %d stored, %d duplicates, %d unknown", stored, duplicates, len(unknown))
    return JsonResponse({"stored": stored, "duplicates": duplicates, "unknown": unknown})
