"""The inspections app's experience-score figure: the spot-check pass rate, from one grouped query."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from inspections.models import InspectionStatus
from inspections.scoring import inspection_score_figures
from tests.inspections.factories import InspectionFactory
from tests.merchants.factories import ListingFactory

pytestmark = pytest.mark.django_db


def inspection(store, status, *, days_ago=2):
    result_at = None if status == InspectionStatus.AT_LAB else timezone.now() - timedelta(days=days_ago)
    return InspectionFactory(listing=ListingFactory(store=store), status=status, result_at=result_at)


def test_the_pass_rate_is_the_results_in_the_window_that_stand_passed(
    store_factory, django_assert_num_queries
):
    store, untested = store_factory(), store_factory()
    inspection(store, InspectionStatus.PASSED)
    inspection(store, InspectionStatus.PASSED)
    inspection(store, InspectionStatus.PASSED, days_ago=45)  # before the window
    inspection(store, InspectionStatus.FAILED)
    inspection(store, InspectionStatus.RETEST_REQUESTED)  # failed, re-test pending: not passed (yet)
    inspection(store, InspectionStatus.FAILED_FINAL)
    inspection(store, InspectionStatus.AT_LAB)  # no result: not decided
    inspection(untested, InspectionStatus.AT_LAB)
    end = timezone.now()

    with django_assert_num_queries(1):
        figures = inspection_score_figures(start=end - timedelta(days=30), end=end)

    assert figures == {store.pk: {"spot_checks_decided": 5, "spot_check_pass_rate": Decimal("0.4000")}}
