"""The seller dashboard's notifications: what happened to the store that it should know about.

A registry like merchants.todos: the apps above merchants keep their own notifications (complaints: new
complaints, information requests, decisions, appeal windows closing) and register, in AppConfig.ready, a
function `notices(user, store, limit) -> NoticeFeed` giving the store's latest ones for a member, how many
are unread and where to mark them read; merchants imports none of them. Each source costs a fixed, small
number of queries (the latest rows, the unread count), so the dashboard does too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Notice:
    kind: str  # stable, for tests and styling: "complaint_opened"
    kind_label: str  # translated
    message: str  # translated
    link: str
    created_at: datetime
    unread: bool


@dataclass(frozen=True)
class NoticeFeed:
    key: str  # the source's name
    title: str  # translated
    unread: int  # all the unread ones, not only those shown
    mark_read_url: str  # POST: marks the store's notifications of this source read
    notices: list[Notice] = field(default_factory=list)


NoticeSource = Callable[..., NoticeFeed]
NOTICE_SOURCES: dict[str, NoticeSource] = {}
DASHBOARD_NOTICES = 10


def register_notice_source(name: str, notices: NoticeSource) -> None:
    NOTICE_SOURCES[name] = notices


def store_notices(*, user, store, limit: int = DASHBOARD_NOTICES) -> list[NoticeFeed]:
    """Every source's feed for a member of the store (the caller resolved the membership), in the order the
    sources registered."""
    return [source(user, store, limit) for source in NOTICE_SOURCES.values()]
