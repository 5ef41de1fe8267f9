import pytest

from tests.inspections.factories import InspectionFactory, LabFactory


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Reports go to a fresh MEDIA_ROOT per test, so a test can see exactly what was stored."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def lab_factory(db):
    return LabFactory


@pytest.fixture
def inspection_factory(db):
    return InspectionFactory


@pytest.fixture
def inspector(staff_user):
    return staff_user("quality inspector", username="inspector")


@pytest.fixture
def reviewer(staff_user):
    return staff_user("compliance reviewer", username="reviewer")


def stored_files(root) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
