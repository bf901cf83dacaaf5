"""Pagination: each vendor's paging style as a small class, and one loop, ``paginate``, that drives any of them.

A paginator answers three questions about a JSON page (the body ``session.get_json`` returns):
``first_request(url, params)`` (what to ask for first), ``items(page)`` (the records on it) and
``next_request(request, page, items)`` (what to ask for next, or None when done). It raises
``PagingError`` for a page it cannot go past; ``paginate`` turns that into a ``VendorError`` naming the
route and path. The shape follows dlt's REST client paginators
(https://dlthub.com/docs/general-usage/http/rest-client#paginators).

* ``NextLinkPaginator``: a next-page URL in the body, absolute or relative (RFC 3986 §5.2), pinned to the
  first request's origin (RFC 6454) so the credentials never go elsewhere (Wonde ``meta.pagination.next``:
  https://docs.wonde.com/docs/api/sync#pagination; ScholarPack).
* ``PageCountPaginator``: page numbers up to the page count the body reports (Xporter on Demand
  ``PageCount``; RM Integris).
* ``ShortPagePaginator``: page numbers until a page comes back short (Pupil Asset: no count, no link).
* ``ODataPaginator``: OData v4 ``$top``/``$skip`` (OData URL Conventions v4.01 §5.1.6 and §5.1.7; SIMS).

The session is anything with ``route`` and ``get_json(url, params=...)``: connectors wrap the real one to
check each page (Pupil Asset) or keep each page's envelope (Xporter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, Mapping
from urllib.parse import urljoin

from .errors import VendorError, _origin, _path_of

MAX_PAGES = 100_000  # a guard against a vendor that never stops paging


class PagingError(Exception):
    """A page the paginator cannot go past; the message is the problem, shown with route and path."""


@dataclass(frozen=True)
class PageRequest:
    """One page's GET: a URL (or a path under the session's base URL) and its query parameters."""

    url: str
    params: Mapping[str, Any] | None = None


def dig(data: Any, key: str | None) -> Any:
    """``data`` at a dotted path (``"meta.pagination.next"``); list indexes allowed; None if absent."""
    if key is None:
        return data
    if "." not in key and isinstance(data, dict):  # the common case, on every field of every record
        return data.get(key)
    for part in key.split("."):
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


class Paginator:
    """One paging style. Subclasses say how to ask for the first page and the next.

    An instance walks one listing: ``first_request`` resets what it remembers (the query, the links seen).
    """

    def __init__(self, items_key: str | None) -> None:
        self.items_key = items_key

    def first_request(self, url: str, params: Mapping[str, Any] | None) -> PageRequest:
        return PageRequest(url, params)

    def items(self, page: Any) -> list:
        """The records on a page: the list at ``items_key`` (none when absent)."""
        items = dig(page, self.items_key)
        if items is None:
            return []
        if not isinstance(items, list):
            raise PagingError(f"{self.items_key!r} is not a list")
        return items

    def next_request(self, request: PageRequest, page: Any, items: list) -> PageRequest | None:
        raise NotImplementedError


class NextLinkPaginator(Paginator):
    """Follow a next-page URL in the body until it is empty; ``page_size`` also stops on a short page.

    A next URL on another scheme, host or port than the first request is refused: the credentials would
    go with it. The next link carries its own query, so the first request's parameters are not repeated.
    """

    def __init__(self, items_key: str | None, next_key: str, page_size: int | None = None) -> None:
        super().__init__(items_key)
        self.next_key = next_key
        self.page_size = page_size
        self._origin: tuple[str, str, int] | None = None
        self._seen: set[str] = set()

    def first_request(self, url: str, params: Mapping[str, Any] | None) -> PageRequest:
        self._origin, self._seen = _origin(url), {url}
        return PageRequest(url, params)

    def next_request(self, request: PageRequest, page: Any, items: list) -> PageRequest | None:
        nxt = dig(page, self.next_key)
        if not nxt or not isinstance(nxt, str):
            return None
        if self.page_size is not None and len(items) < self.page_size:
            return None
        following = urljoin(request.url, nxt)
        if _origin(following) != self._origin:
            raise PagingError("refused a next-page link to another host (credentials would leak)")
        if following in self._seen:
            raise PagingError("next-page link loops")
        self._seen.add(following)
        return PageRequest(following)


class PageNumberPaginator(Paginator):
    """Numbered pages from ``first_page``: the page number (and size) in the query of every request."""

    def __init__(self, items_key: str | None, *, page_param: str, size_param: str | None, page_size: int | None,
                 first_page: int = 1) -> None:
        super().__init__(items_key)
        self.page_param, self.size_param, self.page_size = page_param, size_param, page_size
        self.first_page = first_page
        self._params: Mapping[str, Any] | None = None

    def _request(self, url: str, page: int) -> PageRequest:
        query = dict(self._params or {})
        query[self.page_param] = page
        if self.size_param and self.page_size:
            query[self.size_param] = self.page_size
        return PageRequest(url, query)

    def first_request(self, url: str, params: Mapping[str, Any] | None) -> PageRequest:
        self._params = params
        return self._request(url, self.first_page)

    def _following(self, request: PageRequest) -> PageRequest:
        return self._request(request.url, request.params[self.page_param] + 1)  # type: ignore[index]


class PageCountPaginator(PageNumberPaginator):
    """Page numbers up to the page count the body reports at ``total_pages_key``; no count: one page."""

    def __init__(self, items_key: str | None, total_pages_key: str, *, page_param: str = "page",
                 size_param: str | None = "pageSize", page_size: int | None = None, first_page: int = 1) -> None:
        super().__init__(items_key, page_param=page_param, size_param=size_param, page_size=page_size,
                         first_page=first_page)
        self.total_pages_key = total_pages_key

    def next_request(self, request: PageRequest, page: Any, items: list) -> PageRequest | None:
        try:
            last = int(dig(page, self.total_pages_key)) + self.first_page - 1
        except (TypeError, ValueError):
            return None  # no count: a single page
        if request.params[self.page_param] >= last or not items:  # type: ignore[index]
            return None
        return self._following(request)


class ShortPagePaginator(PageNumberPaginator):
    """Page numbers until a page has fewer than ``page_size`` items (no count or link in the body)."""

    def __init__(self, items_key: str | None, page_size: int, *, page_param: str = "page",
                 size_param: str = "per_page", first_page: int = 1) -> None:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        super().__init__(items_key, page_param=page_param, size_param=size_param, page_size=page_size,
                         first_page=first_page)

    def next_request(self, request: PageRequest, page: Any, items: list) -> PageRequest | None:
        return None if len(items) < self.page_size else self._following(request)  # type: ignore[operator]


class ODataPaginator(Paginator):
    """OData v4 ``$top``/``$skip`` until a short page.

    A short page that still carries ``@odata.nextLink`` means the server caps pages below ``$top``
    (server-driven paging, OData Protocol v4.01 §11.2.6.7): stopping there would lose data, so it fails.
    """

    def __init__(self, page_size: int, items_key: str = "value") -> None:
        if page_size <= 0:
            raise ValueError("page_size must be positive")
        super().__init__(items_key)
        self.page_size = page_size
        self._params: Mapping[str, Any] | None = None

    def _request(self, url: str, skip: int) -> PageRequest:
        return PageRequest(url, {**(self._params or {}), "$top": self.page_size, "$skip": skip})

    def first_request(self, url: str, params: Mapping[str, Any] | None) -> PageRequest:
        self._params = params
        return self._request(url, 0)

    def next_request(self, request: PageRequest, page: Any, items: list) -> PageRequest | None:
        if len(items) >= self.page_size:
            return self._request(request.url, request.params["$skip"] + self.page_size)  # type: ignore[index]
        if isinstance(page, dict) and page.get("@odata.nextLink"):
            raise PagingError(f"the server pages below $top={self.page_size} (@odata.nextLink on a short page): "
                              "lower the page size")
        return None


def _refused(session: Any, request: PageRequest, exc: PagingError) -> VendorError:
    return VendorError(session.route, str(exc), 200, False, method="GET", path=_path_of(request.url))


def paginate(session: Any, request: PageRequest, paginator: Paginator) -> Iterator[Any]:
    """Every item of every page: GET ``request``, yield its items, ask the paginator for the next request.

    Stops when the paginator has no next request; more than ``MAX_PAGES`` pages is a ``VendorError``, as
    is a page the paginator refuses (``PagingError``), named by the route and the page's path.
    """
    first = request
    for _ in range(MAX_PAGES):
        page = session.get_json(request.url, params=request.params)
        try:
            items = paginator.items(page)
        except PagingError as exc:
            raise _refused(session, request, exc) from None
        yield from items
        try:
            following = paginator.next_request(request, page, items)
        except PagingError as exc:
            raise _refused(session, request, exc) from None
        if following is None:
            return
        request = following
    raise VendorError(session.route, f"more than {MAX_PAGES} pages", None, False, method="GET",
                      path=_path_of(first.url))


# The functions connectors call: one paginator each, driven by ``paginate`` (same signatures as before).


def next_link(session: Any, url: str, params: Mapping[str, Any] | None = None, *, items_key: str | None,
              next_key: str, page_size: int | None = None) -> Iterator[Any]:
    """Follow a next-page URL in the body; see ``NextLinkPaginator``."""
    paginator = NextLinkPaginator(items_key, next_key, page_size)
    yield from paginate(session, paginator.first_request(session.url_for(url), params), paginator)


def page_count(session: Any, url: str, params: Mapping[str, Any] | None = None, *, items_key: str | None,
               total_pages_key: str, page_param: str = "page", size_param: str | None = "pageSize",
               page_size: int | None = None, first_page: int = 1) -> Iterator[Any]:
    """Page numbers up to the page count the body reports; see ``PageCountPaginator``."""
    paginator = PageCountPaginator(items_key, total_pages_key, page_param=page_param, size_param=size_param,
                                   page_size=page_size, first_page=first_page)
    yield from paginate(session, paginator.first_request(url, params), paginator)


def short_page(session: Any, url: str, params: Mapping[str, Any] | None = None, *, items_key: str | None,
               page_size: int, page_param: str = "page", size_param: str = "per_page",
               first_page: int = 1) -> Iterator[Any]:
    """Page numbers until a short page; see ``ShortPagePaginator``."""
    paginator = ShortPagePaginator(items_key, page_size, page_param=page_param, size_param=size_param,
                                   first_page=first_page)
    yield from paginate(session, paginator.first_request(url, params), paginator)


def odata(session: Any, url: str, params: Mapping[str, Any] | None = None, *, page_size: int,
          items_key: str = "value") -> Iterator[Any]:
    """OData v4 ``$top``/``$skip``; see ``ODataPaginator``."""
    paginator = ODataPaginator(page_size, items_key)
    yield from paginate(session, paginator.first_request(url, params), paginator)
