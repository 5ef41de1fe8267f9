"""The registry of scheduled checks: each app registers its checks here (in AppConfig.ready), so
`run_checks` and the Celery tasks find them without merchants importing the apps above it."""

from collections.abc import Callable

CHECKS: dict[str, Callable[..., str]] = {}


def register_check(name: str, runner: Callable[..., str]) -> None:
    """`runner(now)` runs the check once and returns a one-line summary."""
    CHECKS[name] = runner
