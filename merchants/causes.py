"""Links from a violation to what caused it. The apps above merchants own the causes (orders, shipments,
complaints, inspections), so each registers how its cause ids become seller-page URLs (in AppConfig.ready);
merchants never imports them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

# kind → resolver(store_code, cause_ids) → {cause_id: url}; one query per kind and page at most
CAUSE_LINKS: dict[str, Callable[[str, list[str]], dict[str, str]]] = {}


def register_cause_link(kind: str, resolver: Callable[[str, list[str]], dict[str, str]]) -> None:
    CAUSE_LINKS[kind] = resolver


def cause_links(*, store_code: str, violations: Iterable) -> dict[int, str]:
    """Violation id → the seller page of its cause, for the causes some app knows how to show."""
    by_kind: dict[str, list] = {}
    for violation in violations:
        by_kind.setdefault(violation.cause_kind, []).append(violation)
    links = {}
    for kind, group in by_kind.items():
        resolver = CAUSE_LINKS.get(kind)
        if resolver is None:
            continue
        urls = resolver(store_code, sorted({v.cause_id for v in group}))
        links.update({v.pk: urls[v.cause_id] for v in group if v.cause_id in urls})
    return links
