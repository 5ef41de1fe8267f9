from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from merchants.models import PointYearClose, StoreEvent, StoreStatus
from merchants.services import point_year_rollover_check, violation_record

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
THIS_YEAR = timezone.now().astimezone(SHANGHAI).year
LAST_YEAR = THIS_YEAR - 1
NEW_YEAR_IN_SHANGHAI = datetime(THIS_YEAR, 1, 1, 0, 30, tzinfo=SHANGHAI)  # 16:30 UTC on 31 December


def points_last_year(store, *, general=0, serious=0):
    occurred = datetime(LAST_YEAR, 6, 1, 12, tzinfo=SHANGHAI)
    if general:
        violation_record(
            store=store,
            type_code="manual",
            cause_kind="manual",
            cause_id=f"{store.pk}:g",
            occurred_at=occurred,
            points=general,
        )
    if serious:
        violation_record(
            store=store,
            type_code="counterfeit",
            cause_kind="manual",
            cause_id=f"{store.pk}:s",
            occurred_at=occurred,
            points=serious,
        )


def closes():
    return sorted(
        PointYearClose.objects.values_list("store__code", "year", "general_points", "serious_points")
    )


@pytest.fixture
def opened_last_year(store_factory):
    def make(**kwargs):
        return store_factory(opened_on=date(LAST_YEAR, 3, 1), **kwargs)

    return make


def test_the_year_is_closed_once_after_new_year_in_the_stores_time_zone(opened_last_year):
    shanghai = opened_last_year(code="SH-1")
    utc = opened_last_year(code="UTC-1", time_zone="UTC")
    points_last_year(shanghai, general=6, serious=5)
    points_last_year(utc, general=2)

    # Just before midnight in Shanghai: nothing.
    assert point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI - timedelta(hours=1)).closed == 0
    assert closes() == []

    result = point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI)
    assert (result.closed, str(result)) == (1, "closed=1")
    assert closes() == [("SH-1", LAST_YEAR, 6, 5)]
    event = shanghai.events.get(kind="point_year_closed")
    assert (event.data, event.reason, event.created_at) == (
        {"year": LAST_YEAR, "general": 6, "serious": 5},
        "Natural year closed: points start again at zero",
        NEW_YEAR_IN_SHANGHAI,
    )

    # The second run changes nothing.
    events = StoreEvent.objects.count()
    assert point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI).closed == 0
    assert StoreEvent.objects.count() == events

    # Midnight in UTC comes eight hours later.
    assert point_year_rollover_check(now=datetime(THIS_YEAR, 1, 1, 0, 5, tzinfo=ZoneInfo("UTC"))).closed == 1
    assert closes() == [("SH-1", LAST_YEAR, 6, 5), ("UTC-1", LAST_YEAR, 2, 0)]
    # Later days of the year change nothing either.
    assert point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI + timedelta(days=40)).closed == 0
    assert PointYearClose.objects.count() == 2


def test_which_stores_are_closed(opened_last_year, store_factory):
    opened_last_year(code="CLEAN-1")  # trading, no points: closed at zero
    store_factory(code="NEW-1", opened_on=date(THIS_YEAR, 1, 1))  # opened this year
    store_factory(code="PEND-1", status=StoreStatus.PENDING_REVIEW, opened_on=None)
    opened_last_year(code="GONE-1", status=StoreStatus.EXITED)
    cleared = opened_last_year(code="OUT-1")
    points_last_year(cleared, general=4)
    # cleared out since, with points in the closed year
    type(cleared).objects.filter(pk=cleared.pk).update(status=StoreStatus.CLEARED_OUT)

    assert point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI).closed == 2
    assert closes() == [("CLEAN-1", LAST_YEAR, 0, 0), ("OUT-1", LAST_YEAR, 4, 0)]


def test_revoked_points_are_not_in_the_totals(opened_last_year):
    from merchants.models import Violation
    from merchants.services import violation_revoke

    store = opened_last_year(code="REV-1")
    points_last_year(store, general=6, serious=5)
    violation_revoke(
        violation=Violation.objects.get(cause_id=f"{store.pk}:g"), actor=None, reason="appeal won"
    )
    point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI)
    assert closes() == [("REV-1", LAST_YEAR, 0, 5)]


def test_run_checks_runs_the_rollover(opened_last_year):
    opened_last_year(code="CMD-1")
    out = StringIO()
    call_command(
        "run_checks", "--only", "point_year_rollover", "--now", NEW_YEAR_IN_SHANGHAI.isoformat(), stdout=out
    )
    assert out.getvalue() == "point_year_rollover: closed=1\n"


def test_the_violations_page_shows_the_new_year_at_zero_and_last_years_totals(client, opened_last_year):
    from tests.merchants.factories import MembershipFactory

    store = opened_last_year(code="PAGE-1")
    points_last_year(store, general=6, serious=5)
    point_year_rollover_check(now=NEW_YEAR_IN_SHANGHAI)
    client.force_login(MembershipFactory(store=store, role="owner").user)
    page = client.get(reverse("violations", args=[store.code])).content.decode()
    assert f'general points, {THIS_YEAR}</h2>\n    <p class="figure">0</p>' in page
    assert f'serious points, {THIS_YEAR}</h2>\n    <p class="figure">0</p>' in page
    assert f"Last year, {LAST_YEAR}" in page
    assert "General points: 6 · serious points: 5" in page
    assert f"Closed on {THIS_YEAR}-01-01; this year's points started again at zero." in page


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_second_rollover_started_together_does_not_run():
    import zlib

    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    key = zlib.crc32(b"point_year_rollover_check") - 2**31
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"], dbname=connection.settings_dict["NAME"]
    ) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [key])
        assert point_year_rollover_check().skipped is True
        other.execute("SELECT pg_advisory_unlock(%s)", [key])
    assert point_year_rollover_check().skipped is False
