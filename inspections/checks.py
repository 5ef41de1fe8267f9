"""The scheduled spot-check sampling: once per ISO week (a unique cause on the round), single-flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from inspections.services import sampling_weekly_round, weekly_cause_key
from merchants.locks import single_flight


@dataclass
class SamplingCheckResult:
    week: str
    drawn: int = 0
    candidates: int = 0
    round_id: int | None = None
    skipped: bool = False

    def __str__(self):
        if self.skipped:
            return f"{self.week}: another run holds the lock"
        if self.round_id is None:
            return f"{self.week}: already drawn"
        return f"{self.week}: round {self.round_id} drew {self.drawn} of {self.candidates} listings"


def sampling_check(*, now: datetime | None = None) -> SamplingCheckResult:
    now = now or timezone.now()
    result = SamplingCheckResult(week=weekly_cause_key(now))
    with single_flight("inspections.sampling") as acquired:
        if not acquired:
            result.skipped = True
            return result
        sampling_round = sampling_weekly_round(now=now)
    if sampling_round is not None:
        result.round_id = sampling_round.pk
        result.drawn = sampling_round.drawn_count
        result.candidates = sampling_round.candidate_count
    return result
