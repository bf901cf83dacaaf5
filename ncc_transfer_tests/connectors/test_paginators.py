"""The paginator classes and the one loop that drives them, against an in-memory session (no HTTP)."""

from __future__ import annotations

from typing import Any

import pytest

from ncc_transfer.connectors.http import (
    NextLinkPaginator,
    ODataPaginator,
    PageCountPaginator,
    PageRequest,
    Paginator,
    ShortPagePaginator,
    VendorError,
    paginate,
)


class Pages:
    """Answers ``get_json`` from a function of (url, params) and records every call."""

    route = "test"

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict]] = []

    def get_json(self, url: str, params: Any = None) -> Any:
        self.calls.append((url, dict(params or {})))
        return self.answer(url, dict(params or {}))


def walk(session: Pages, paginator: Paginator, url: str, params: dict | None = None) -> list:
    return list(paginate(session, paginator.first_request(url, params), paginator))


def test_next_link_follows_relative_links_and_drops_the_first_query() -> None:
    pages = {"https://v.example/a": {"data": [1, 2], "next": "/a?p=2"},
             "https://v.example/a?p=2": {"data": [3], "next": None}}
    session = Pages(lambda url, params: pages[url])
    assert walk(session, NextLinkPaginator("data", "next"), "https://v.example/a", {"q": 1}) == [1, 2, 3]
    assert session.calls == [("https://v.example/a", {"q": 1}), ("https://v.example/a?p=2", {})]


def test_next_link_to_another_host_is_refused_after_the_page_is_yielded() -> None:
    session = Pages(lambda url, params: {"data": [1], "next": "https://elsewhere.example/a?p=2"})
    got: list = []
    with pytest.raises(VendorError, match="another host") as caught:
        got.extend(paginate(session, PageRequest("https://v.example/a"), NextLinkPaginator("data", "next")))
    assert got == [1] and caught.value.status == 200 and not caught.value.transient


def test_page_count_and_short_page_number_their_pages() -> None:
    session = Pages(lambda url, params: {"rows": [params["page"]], "PageCount": 3})
    assert walk(session, PageCountPaginator("rows", "PageCount", page_size=50), "/t", {"x": "y"}) == [1, 2, 3]
    assert session.calls[0] == ("/t", {"x": "y", "page": 1, "pageSize": 50})
    session = Pages(lambda url, params: {"rows": list(range(2 if params["page"] < 3 else 1))})
    assert len(walk(session, ShortPagePaginator("rows", 2), "/t")) == 5
    assert [c[1]["page"] for c in session.calls] == [1, 2, 3]


def test_odata_skips_by_the_page_size_and_refuses_a_server_cap() -> None:
    session = Pages(lambda url, params: {"value": [0, 1] if params["$skip"] < 4 else [0]})
    assert len(walk(session, ODataPaginator(2), "/Learners")) == 5
    assert [c[1]["$skip"] for c in session.calls] == [0, 2, 4]
    capped = Pages(lambda url, params: {"value": [0], "@odata.nextLink": "/Learners?$skiptoken=1"})
    with pytest.raises(VendorError, match="lower the page size"):
        walk(capped, ODataPaginator(2), "/Learners")


def test_items_that_are_not_a_list_fail_the_walk() -> None:
    session = Pages(lambda url, params: {"rows": {"not": "a list"}})
    with pytest.raises(VendorError, match="'rows' is not a list"):
        walk(session, ShortPagePaginator("rows", 10), "/t")
