"""The admin's violation and point-entry lists count without a full COUNT(*), and the ladders refuse steps
the engine could not apply (given / when / then)."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from merchants.admin import EstimatedCountPaginator
from merchants.models import OccurrenceLadderStep, PointLadderStep, ViolationType
from merchants.rules import OCCURRENCE_LADDER_PENALTIES, POINT_LADDER_PENALTIES, ladder_step_problems
from merchants.services import violation_record

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model_name", ["violation", "pointentry"])
def test_the_violation_and_point_lists_never_count_the_whole_table(admin_client, store, model_name):
    # given violations with their point entries
    for n in range(3):
        violation_record(store=store, type_code="not_as_described", cause_kind="manual", cause_id=f"m{n}")
    url = reverse(f"admin:merchants_{model_name}_changelist")
    admin_client.get(url)
    # when a reviewer opens the list filtered by year / status
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url, {"ledger": "general"})
    # then it shows them, and every COUNT it ran has a WHERE clause (no "of N total" count of the table)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 3
    table = f"merchants_{model_name}"
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"] and table in q["sql"]]
    assert counts and all("WHERE" in sql for sql in counts)
    # and unfiltered, the count is the estimating paginator's
    assert isinstance(admin_client.get(url).context["cl"].paginator, EstimatedCountPaginator)


@pytest.mark.parametrize(
    "penalties, duration, problems",
    [
        ("warning,rules_exam", None, {}),
        (" listing_block , order_restriction ", 7, {}),
        ("suspension", 30, {}),
        ("clear_out", None, {}),
        ("listing_blok", 7, {"penalties": ["Unknown penalty “listing_blok”; the ladder knows: {allowed}."]}),
        ("suspension", None, {"duration_days": ["A suspension needs its duration in days."]}),
        ("suspension", 0, {"duration_days": ["A suspension needs its duration in days."]}),
        ("", None, {"penalties": ["Name at least one penalty."]}),
        ("warning,warning", None, {"penalties": ["Name each penalty once."]}),
        (
            "settlement_freeze",
            7,
            {"penalties": ["Unknown penalty “settlement_freeze”; the ladder knows: {allowed}."]},
        ),
    ],
)
def test_what_is_wrong_with_a_point_ladder_step(penalties, duration, problems):
    allowed = ", ".join(POINT_LADDER_PENALTIES)
    expected = {field: [m.format(allowed=allowed) for m in messages] for field, messages in problems.items()}
    assert (
        ladder_step_problems(penalties=penalties, duration_days=duration, allowed=POINT_LADDER_PENALTIES)
        == expected
    )


def test_the_occurrence_ladder_also_knows_settlement_freeze_and_withdrawal_hold():
    problems = ladder_step_problems(
        penalties="settlement_freeze,withdrawal_hold", duration_days=7, allowed=OCCURRENCE_LADDER_PENALTIES
    )
    assert problems == {}


def test_the_admin_refuses_a_misspelt_penalty_and_a_suspension_without_duration(admin_client):
    # given the general ledger's 24-point step
    step = PointLadderStep.objects.get(ledger="general", threshold=24)
    url = reverse("admin:merchants_pointladderstep_change", args=[step.pk])
    # when a reviewer types a penalty wrong, then the form says so and nothing changes
    response = admin_client.post(
        url, {"ledger": "general", "threshold": 24, "penalties": "listing_blok", "duration_days": 7}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "penalties": [
            f"Unknown penalty “listing_blok”; the ladder knows: {', '.join(POINT_LADDER_PENALTIES)}."
        ]
    }
    # when they make it a suspension without a duration, then the duration is asked for
    response = admin_client.post(
        url, {"ledger": "general", "threshold": 24, "penalties": "suspension", "duration_days": ""}
    )
    assert response.context["adminform"].form.errors == {
        "duration_days": ["A suspension needs its duration in days."]
    }
    step.refresh_from_db()
    assert (step.penalties, step.duration_days) == ("listing_block", 7)


def test_the_admin_refuses_the_same_on_an_occurrence_ladder_step(admin_client):
    step = OccurrenceLadderStep.objects.get(violation_type__code="fraudulent_dispatch", occurrence=3)
    url = reverse("admin:merchants_occurrenceladderstep_change", args=[step.pk])
    response = admin_client.post(
        url,
        {
            "violation_type": step.violation_type_id,
            "occurrence": 3,
            "penalties": "settlement_freeze,suspension",
            "duration_days": "",
        },
    )
    assert response.context["adminform"].form.errors == {
        "duration_days": ["A suspension needs its duration in days."]
    }
    step.refresh_from_db()
    assert (step.penalties, step.duration_days) == ("settlement_freeze,listing_block,suspension", 7)


@pytest.mark.parametrize("duration", [None, 0])
def test_the_database_refuses_a_suspension_step_without_duration(duration):
    # given a step written past the form (a shell, a bulk update), then the database refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        PointLadderStep.objects.create(
            ledger="general", threshold=60, penalties="suspension", duration_days=duration
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        OccurrenceLadderStep.objects.create(
            violation_type=ViolationType.objects.get(code="fraudulent_dispatch"),
            occurrence=9,
            penalties="suspension",
            duration_days=duration,
        )
