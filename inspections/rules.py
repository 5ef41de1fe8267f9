"""Pure rule arithmetic of spot-check inspections: risk weights, the seeded draw, working days, and what a
lab report file is by its content. No ORM here; everything is a function of plain values and the rule table's
numbers, tested without a database."""

from __future__ import annotations

import hashlib
import heapq
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from merchants.rules import add_working_days, is_working_day  # noqa: F401  (re-exported: re-test windows use them)


def plain(value) -> str:
    """A number as recorded in a round: no exponent, no trailing zeros (2.0000 → "2", 0.50 → "0.5")."""
    text = format(Decimal(value).normalize(), "f")
    return text


# --- Risk weights ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskWeights:
    """The rule table's sampling numbers (RULES §7: weighted towards new stores, complaints, risky categories,
    and — our addition — earlier failures)."""

    base: Decimal
    new_store: Decimal
    new_store_days: int
    per_complaint_point: Decimal  # added per percentage point of the store's complaint rate
    complaint_rate_cap: Decimal  # the highest complaint rate counted (a share: 0.05 is 5%)
    risky_category: Decimal
    per_failure: Decimal
    failure_cap: int

    def as_dict(self) -> dict[str, str]:
        return {name: plain(value) for name, value in self.__dict__.items()}


@dataclass(frozen=True)
class RiskFactors:
    """What is known of a listing's risk when a round is drawn."""

    store_age_days: int | None  # None: the store has no opening date
    # Complaints per paid order (a share) from the store's latest experience score; None: not scored yet.
    # A rate, not a count, so a big store is not drawn for its size, and only complaints count.
    complaint_rate: Decimal | None
    risky_category: bool
    earlier_failures: int  # the store's failed spot checks that stand

    def is_new_store(self, weights: RiskWeights) -> bool:
        return self.store_age_days is not None and self.store_age_days < weights.new_store_days


WEIGHT_PLACES = Decimal("0.001")  # an inspection's weight is kept to three places


def risk_contributions(factors: RiskFactors, weights: RiskWeights) -> dict[str, Decimal]:
    """Each factor's part of the weight (only the factors that add something, and the base)."""
    parts = {"base": weights.base}
    if factors.is_new_store(weights):
        parts["new_store"] = weights.new_store
    if factors.complaint_rate is not None:
        rate = min(max(Decimal(factors.complaint_rate), Decimal("0")), weights.complaint_rate_cap)
        parts["complaint_rate"] = (weights.per_complaint_point * rate * 100).quantize(
            WEIGHT_PLACES, rounding=ROUND_HALF_UP
        )
    if factors.risky_category:
        parts["risky_category"] = weights.risky_category
    failures = min(max(factors.earlier_failures, 0), weights.failure_cap)
    if failures:
        parts["earlier_failures"] = weights.per_failure * failures
    return {name: value for name, value in parts.items() if value}


def risk_weight(factors: RiskFactors, weights: RiskWeights) -> Decimal:
    """The listing's weight in the draw: the base plus what each risk factor adds (never below zero)."""
    return max(sum(risk_contributions(factors, weights).values(), Decimal("0")), Decimal("0"))


# --- The seeded draw ------------------------------------------------------------------------------


def _uniform(seed: str, candidate_id: int) -> float:
    """A number in (0, 1) fixed by the seed and the candidate alone, so the draw does not depend on the order
    the candidates arrive in (nor on the database)."""
    digest = hashlib.blake2b(f"{seed}:{candidate_id}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 1) / (2**64 + 1)


def draw_key(seed: str, candidate_id: int, weight: Decimal) -> float:
    """Efraimidis–Spirakis: keep the candidates with the largest u^(1/w), compared as log(u)/w."""
    return math.log(_uniform(seed, candidate_id)) / float(weight)


def weighted_draw(candidates: Iterable[tuple[int, Decimal]], *, size: int, seed: str) -> list[int]:
    """Draw up to `size` distinct candidate ids without replacement, each with probability growing with its
    weight; a weight of zero or less is never drawn. The same seed and the same candidate set give the same
    draw, in the same order, whatever order the candidates come in. Streams: memory grows with `size` only."""
    if size <= 0:
        return []
    seen: set[int] = set()
    keyed = []
    for candidate_id, weight in candidates:
        if candidate_id in seen:
            raise ValueError(f"candidate {candidate_id} is listed twice")
        seen.add(candidate_id)
        if weight <= 0:
            continue
        keyed.append((draw_key(seed, candidate_id, weight), -candidate_id))
        if len(keyed) > 4 * size + 1024:  # keep memory bounded on a million candidates
            keyed = heapq.nlargest(size, keyed)
    return [-negated for _key, negated in heapq.nlargest(size, keyed)]


def fingerprint_line(candidate_id: int, weight: Decimal) -> bytes:
    return f"{candidate_id}:{Decimal(weight).normalize()}\n".encode()


def candidates_digest(candidates: Iterable[tuple[int, Decimal]]) -> str:
    """A fingerprint of the candidate set and its weights (taken in ascending id order, whatever order they
    come in), recorded with the round so a re-draw can show it started from the same set."""
    digest = hashlib.sha256()
    for candidate_id, weight in sorted(candidates):
        digest.update(fingerprint_line(candidate_id, weight))
    return digest.hexdigest()


# --- Working days (the arithmetic lives in merchants.rules: appeals count them too) -----------------


def retest_deadline(
    *,
    failed_at: datetime,
    working_days: int,
    zone: ZoneInfo,
    holidays: frozenset[date] = frozenset(),
    makeup_working_days: frozenset[date] = frozenset(),
) -> datetime:
    """When the re-test window closes: the end of the `working_days`-th working day after the day of the
    failed result, in the store's time zone (the midnight that starts the next day; the window is open
    strictly before it). A result on Friday (or at the weekend) gives Monday to Wednesday; public holidays
    are skipped and make-up working days (调休) count."""
    if failed_at.tzinfo is None:
        raise ValueError("failed_at must be timezone-aware")
    last_day = add_working_days(
        failed_at.astimezone(zone).date(), working_days, holidays, makeup_working_days
    )
    return datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)


def retest_window_open(*, now: datetime, deadline: datetime | None) -> bool:
    return deadline is not None and now < deadline


# --- Lab report files -----------------------------------------------------------------------------

REPORT_TYPES = {
    # content type: (file extensions accepted, extension stored)
    "application/pdf": ((".pdf",), ".pdf"),
    "image/png": ((".png",), ".png"),
    "image/jpeg": ((".jpg", ".jpeg"), ".jpg"),
}


def sniff_report_type(head: bytes) -> str | None:
    """The report's type from its first bytes (never from its name or the browser's word): a PDF, a PNG or a
    JPEG, or None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


# Active content a PDF viewer might run; a lab report has no business carrying it.
PDF_ACTIVE_MARKERS = {
    "/JavaScript": re.compile(rb"/JavaScript\b"),
    "/JS": re.compile(rb"/JS(?![A-Za-z0-9])"),
    "/Launch": re.compile(rb"/Launch\b"),
    "/EmbeddedFile": re.compile(rb"/EmbeddedFile\b"),
}


def pdf_active_content(data: bytes) -> list[str]:
    """The active-content markers found in a PDF's bytes (by name; a marker hidden in a compressed object
    stream is not seen, which is why reports are also served as downloads, never inline)."""
    return [name for name, pattern in PDF_ACTIVE_MARKERS.items() if pattern.search(data)]
