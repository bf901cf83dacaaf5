"""The shared HTTP layer over real HTTP on loopback: a scripted standard-library server in a thread."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from ncc_transfer.connectors.http import (
    ApiKeyHeader,
    Basic,
    OAuth2ClientCredentials,
    StaticBearer,
    TokenEndpoint,
    VendorError,
    check_body,
    make_session,
    next_link,
    odata,
    page_count,
    short_page,
)

SECRET = "s3cret-token-never-to-be-seen"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_type: str | None = None


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float


class Script:
    """Per path: a list of replies served in order (the last one repeats), or a function of the request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply] | Callable[[Seen], Reply]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    def on(self, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        self.routes[path] = replies[0] if len(replies) == 1 and callable(replies[0]) else list(replies)

    def reply(self, seen: Seen) -> Reply:
        with self.lock:
            self.seen.append(seen)
            route = self.routes.get(seen.path)
            if route is None:
                return Reply(404, {"error": "no route"})
            if callable(route):
                return route(seen)
            return route.pop(0) if len(route) > 1 else route[0]

    def hits(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers), body, time.monotonic())
        reply = self.server.script.reply(seen)  # type: ignore[attr-defined]
        if reply.delay:
            time.sleep(reply.delay)
        if isinstance(reply.body, (dict, list)):
            payload, ctype = json.dumps(reply.body).encode(), "application/json"
        elif isinstance(reply.body, str):
            payload, ctype = reply.body.encode(), "text/plain"
        else:
            payload, ctype = reply.body or b"", "application/json"
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type or ctype)
            self.send_header("Content-Length", str(len(payload)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST = _handle


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.script = Script()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def session(server, auth=None, **kw):
    kw.setdefault("backoff_factor", 0.01)
    kw.setdefault("route", "testvendor")
    return make_session(server.base, auth, **kw)


# ------------------------------------------------------------------------------- retries, timeouts


def test_retry_after_on_429_is_honoured_then_succeeds_after_a_503(server):
    s = server.script
    s.on("/v1/pupils", Reply(429, {"e": 1}, {"Retry-After": "1"}), Reply(503, {"e": 2}), Reply(200, {"data": [1]}))
    start = time.monotonic()
    assert session(server).get_json("v1/pupils") == {"data": [1]}
    hits = s.hits("/v1/pupils")
    assert len(hits) == 3
    assert hits[1].at - hits[0].at >= 1.0  # Retry-After: 1
    assert time.monotonic() - start < 5


def test_gives_up_after_max_retries_with_a_transient_error(server):
    server.script.on("/v1/pupils", Reply(502, "bad gateway"))
    with pytest.raises(VendorError) as err:
        session(server, max_retries=2).get_json("v1/pupils", params={"school": "123"})
    assert err.value.transient is True and err.value.status == 502
    assert len(server.script.hits("/v1/pupils")) == 3  # first try + 2 retries
    text = str(err.value)
    assert "testvendor" in text and "/v1/pupils" in text and "502" in text
    assert "school=" not in text  # no query string in messages


def test_read_timeout_is_always_set(server):
    server.script.on("/slow", Reply(200, {"ok": True}, delay=1.5))
    start = time.monotonic()
    with pytest.raises(VendorError) as err:
        session(server, read_timeout=0.5, max_retries=0).get_json("slow")
    assert time.monotonic() - start < 1.4
    assert err.value.transient is True and "timed out" in str(err.value)


def test_connection_refused_is_a_transient_error():
    s = make_session("http://127.0.0.1:9/", None, connect_timeout=0.5, max_retries=0, route="dead")
    with pytest.raises(VendorError) as err:
        s.get_json("x")
    assert err.value.transient is True and "dead" in str(err.value)


def test_tls_verification_cannot_be_turned_off(server):
    s = session(server)
    assert s.verify is True
    with pytest.raises(ValueError):
        s.verify = False
    with pytest.raises(ValueError):
        s.get("anything", verify=False)


# ------------------------------------------------------------------------------------------- auth


def test_bearer_basic_and_api_key_headers_are_sent(server):
    server.script.on("/h", Reply(200, {"ok": 1}))
    session(server, StaticBearer(SECRET)).get_json("h")
    session(server, Basic("app-user", SECRET)).get_json("h")
    session(server, ApiKeyHeader("Ocp-Apim-Subscription-Key", SECRET)).get_json("h")
    bearer, basic, key = server.script.hits("/h")
    assert bearer.headers["Authorization"] == f"Bearer {SECRET}"
    assert basic.headers["Authorization"] == "Basic " + base64.b64encode(f"app-user:{SECRET}".encode()).decode()
    assert key.headers["Ocp-Apim-Subscription-Key"] == SECRET
    assert "Authorization" not in key.headers


def test_token_endpoint_is_fetched_once_and_cached(server):
    s = server.script
    s.on("/sts/GetToken", Reply(200, {"Message": None, "ExceptionMessage": None, "token": "tok-1",
                                      "expires": "2099-06-24T18:55:26.1852229Z"}))
    s.on("/data", Reply(200, {"ok": 1}))
    auth = TokenEndpoint(server.base + "sts/GetToken", lambda: {"estab": "8881234", "schoolSecret": SECRET},
                         "expires", scheme="Idaas")
    sess = session(server, auth)
    for _ in range(3):
        sess.get_json("data")
    assert len(s.hits("/sts/GetToken")) == 1
    assert json.loads(s.hits("/sts/GetToken")[0].body) == {"estab": "8881234", "schoolSecret": SECRET}
    assert "Authorization" not in s.hits("/sts/GetToken")[0].headers
    assert [h.headers["Authorization"] for h in s.hits("/data")] == ["Idaas tok-1"] * 3


def test_expired_token_is_fetched_again(server):
    s = server.script
    s.on("/token", Reply(200, {"token": "a", "expires": 1}), Reply(200, {"token": "b", "expires": 3600}))
    s.on("/data", Reply(200, {"ok": 1}))
    sess = session(server, TokenEndpoint(server.base + "token", {"k": "v"}, "expires"))
    sess.get_json("data")
    sess.get_json("data")  # "a" expires inside the refresh margin
    sess.get_json("data")
    assert [h.headers["Authorization"] for h in s.hits("/data")] == ["Bearer a", "Bearer b", "Bearer b"]


def test_reauth_once_on_401_then_error_on_a_second_401(server):
    s = server.script
    s.on("/token", Reply(200, {"token": "t1"}), Reply(200, {"token": "t2"}), Reply(200, {"token": "t3"}))
    s.on("/data", Reply(401, {"e": 1}), Reply(200, {"ok": 1}), Reply(401, {"e": 1}))
    sess = session(server, TokenEndpoint(server.base + "token", {"secret": SECRET}, None))
    assert sess.get_json("data") == {"ok": 1}  # 401 with t1, re-auth, 200 with t2
    with pytest.raises(VendorError) as err:
        sess.get_json("data")  # 401 with t2, re-auth (t3), 401 again: give up
    assert err.value.status == 401 and err.value.transient is False
    assert "re-authentication" in str(err.value)
    assert len(s.hits("/token")) == 3
    assert [h.headers["Authorization"] for h in s.hits("/data")] == [
        "Bearer t1", "Bearer t2", "Bearer t2", "Bearer t3"]


def test_oauth2_client_credentials_form_body(server):
    s = server.script
    s.on("/connect/token", Reply(200, {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}))
    s.on("/odata/Students", Reply(200, {"value": []}))
    auth = OAuth2ClientCredentials(server.base + "connect/token", "client-1", SECRET, scope="api")
    sess = session(server, auth)
    sess.get_json("odata/Students")
    sess.get_json("odata/Students")
    (tok,) = s.hits("/connect/token")
    assert tok.method == "POST"
    assert tok.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(tok.body.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["client-1"], "client_secret": [SECRET], "scope": ["api"]}
    assert all(h.headers["Authorization"] == "Bearer at-1" for h in s.hits("/odata/Students"))


def test_token_endpoint_refusal_is_an_error_without_the_secret(server):
    server.script.on("/token", Reply(400, {"error": "invalid_client", "echo": SECRET}))
    sess = session(server, OAuth2ClientCredentials(server.base + "token", "c", SECRET))
    with pytest.raises(VendorError) as err:
        sess.get_json("data")
    assert err.value.status == 400 and "/token" in str(err.value) and SECRET not in str(err.value)


def test_secret_never_in_exception_text_or_repr(server):
    server.script.on("/data", Reply(401, {"Message": SECRET}))
    server.script.on("/token", Reply(200, {"token": SECRET}))
    strategies = [
        StaticBearer(SECRET), Basic("u", SECRET), ApiKeyHeader("X-Key", SECRET),
        TokenEndpoint(server.base + "token", {"secret": SECRET}, None),
        OAuth2ClientCredentials(server.base + "token", "c", SECRET),
    ]
    for auth in strategies:
        sess = session(server, auth)
        with pytest.raises(VendorError) as err:
            sess.get_json("data", params={"apiKey": SECRET})
        for text in (str(err.value), repr(err.value), repr(auth), repr(sess)):
            assert SECRET not in text, text
        assert err.value.__cause__ is None or SECRET not in str(err.value.__cause__)


# ------------------------------------------------------------------------------------- pagination


def test_next_link_across_three_pages(server):
    base = server.base
    s = server.script
    s.on("/v1.0/schools/A1/students", lambda seen: {
        None: Reply(200, {"data": [1, 2], "meta": {"pagination": {"next": base + "v1.0/schools/A1/students?page=2"}}}),
        "2": Reply(200, {"data": [3, 4], "meta": {"pagination": {"next": "?page=3"}}}),  # relative link
        "3": Reply(200, {"data": [5], "meta": {"pagination": {"next": None}}}),
    }[seen.query.get("page", [None])[0]])
    sess = session(server, StaticBearer(SECRET))
    items = list(next_link(sess, "v1.0/schools/A1/students", {"per_page": 2},
                           items_key="data", next_key="meta.pagination.next"))
    assert items == [1, 2, 3, 4, 5]
    hits = s.hits("/v1.0/schools/A1/students")
    assert len(hits) == 3 and hits[0].query["per_page"] == ["2"]


@pytest.mark.parametrize("foreign", ["http://127.0.0.2:{port}/v1/p?page=2", "https://127.0.0.1:{port}/v1/p?page=2",
                                     "http://127.0.0.1:1/v1/p?page=2"])
def test_foreign_next_link_is_refused(server, foreign):
    port = server.server_address[1]
    server.script.on("/v1/p", Reply(200, {"data": [1], "next": foreign.format(port=port)}))
    sess = session(server, StaticBearer(SECRET))
    got = []
    with pytest.raises(VendorError) as err:
        for item in next_link(sess, "v1/p", None, items_key="data", next_key="next"):
            got.append(item)
    assert got == [1]
    assert "another host" in str(err.value) and SECRET not in str(err.value)
    assert len(server.script.seen) == 1  # nothing was sent anywhere else


def test_redirect_to_foreign_host_is_refused(server):
    server.script.on("/moved", Reply(302, b"", {"Location": "http://127.0.0.2:1/steal"}))
    with pytest.raises(VendorError) as err:
        session(server, ApiKeyHeader("X-Key", SECRET)).get_json("moved")
    assert "redirect" in str(err.value)


def test_page_count_paging(server):
    def pages(seen: Seen) -> Reply:
        page = int(seen.query["page"][0])
        rows = {1: [1, 2], 2: [3, 4], 3: [5]}[page]
        # XoD: NextPage is still present on the last page, so the count decides
        return Reply(200, {"Students": rows, "__pagination__": [
            {"PageSize": 2, "PageNumber": page, "PageCount": 3, "NextPage": f"?page={page + 1}&pageSize=2"}]})

    server.script.on("/api/v1/School/8881234/students", pages)
    items = list(page_count(session(server), "api/v1/School/8881234/students", {"updatedSince": "2026-01-01"},
                            items_key="Students", total_pages_key="__pagination__.0.PageCount", page_size=2))
    assert items == [1, 2, 3, 4, 5]
    hits = server.script.hits("/api/v1/School/8881234/students")
    assert [h.query["page"] for h in hits] == [["1"], ["2"], ["3"]]
    assert hits[0].query["pageSize"] == ["2"] and hits[0].query["updatedSince"] == ["2026-01-01"]


def test_odata_top_skip_paging(server):
    rows = list(range(7))

    def pages(seen: Seen) -> Reply:
        top, skip = int(seen.query["$top"][0]), int(seen.query["$skip"][0])
        return Reply(200, {"value": rows[skip:skip + top]})

    server.script.on("/odata/Students", pages)
    assert list(odata(session(server), "odata/Students", page_size=3)) == rows
    assert [h.query["$skip"] for h in server.script.hits("/odata/Students")] == [["0"], ["3"], ["6"]]


def test_short_page_stop(server):
    def pages(seen: Seen) -> Reply:
        page = int(seen.query["page-number"][0])
        return Reply(200, {"students": {1: ["a", "b"], 2: ["c", "d"], 3: []}[page]})

    server.script.on("/rest-v2/students", pages)
    items = list(short_page(session(server), "rest-v2/students", items_key="students", page_size=2,
                            page_param="page-number", size_param="page-size"))
    assert items == ["a", "b", "c", "d"]
    assert len(server.script.hits("/rest-v2/students")) == 3  # the empty page ends it


# ------------------------------------------------------------------------------------ body errors


def test_html_maintenance_page_on_200(server):
    server.script.on("/x", Reply(200, "<html><body>Down for maintenance, pupil Jane Doe</body></html>",
                                 content_type="text/html; charset=utf-8"))
    with pytest.raises(VendorError) as err:
        session(server).get_json("x")
    assert err.value.transient is True and "HTML" in str(err.value) and "Jane" not in str(err.value)


def test_xod_exception_message_on_200(server):
    server.script.on("/x", Reply(200, {"Message": None, "ExceptionType": "Groupcall.InvalidEstab",
                                       "ExceptionMessage": "Pupil Jane Doe not found", "InnerException": None}))
    with pytest.raises(VendorError) as err:
        session(server).get_json("x")
    assert "ExceptionMessage" in str(err.value) and "Groupcall.InvalidEstab" in str(err.value)
    assert "Jane" not in str(err.value) and err.value.status == 200


def test_graphql_errors_on_200(server):
    server.script.on("/graphql/query", Reply(200, {"data": None, "errors": [
        {"message": "Cannot query field upn on Student Jane", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}))
    with pytest.raises(VendorError) as err:
        session(server, Basic("u", SECRET)).post_json("graphql/query", json={"query": "{ Student { id } }"})
    text = str(err.value)
    assert "GraphQL" in text and "GRAPHQL_VALIDATION_FAILED" in text and "Jane" not in text
    assert "POST /graphql/query" in text


def test_odata_error_object_on_200(server):
    server.script.on("/x", Reply(200, {"error": {"code": "InternalServerError",
                                                 "message": "Learner Jane Doe could not be read"}}))
    with pytest.raises(VendorError) as err:
        session(server).get_json("x")
    text = str(err.value)
    assert "OData error" in text and "InternalServerError" in text and "Jane" not in text
    assert err.value.transient is False and err.value.status == 200
    # An OAuth-style string error is not an OData error object (token endpoints say {"error": "..."}).
    server.script.on("/y", Reply(200, {"error": "pending", "value": []}))
    assert session(server).get_json("y") == {"error": "pending", "value": []}


def test_truncated_page_is_detected(server):
    server.script.on("/x", Reply(200, b'{"data": [1, 2, {"id": '))
    with pytest.raises(VendorError) as err:
        session(server).get_json("x")
    assert "not valid JSON" in str(err.value)


def test_check_body_passes_good_json(server):
    server.script.on("/x", Reply(200, {"data": [], "ExceptionMessage": None, "errors": []}))
    response = session(server).fetch("GET", "x")
    assert check_body(response, "t") == {"data": [], "ExceptionMessage": None, "errors": []}


# ------------------------------------------------------------------------------------- rate limit


def test_rate_limit_spaces_requests_and_is_shared_per_credential(server):
    server.script.on("/r", Reply(200, {"ok": 1}))
    a = session(server, StaticBearer(SECRET, name="RATE_TEST_TOKEN"), rate_per_second=10)
    b = session(server, StaticBearer(SECRET, name="RATE_TEST_TOKEN"), rate_per_second=10)
    start = time.monotonic()
    for sess in (a, b, a, b, a):
        sess.get_json("r")
    assert time.monotonic() - start >= 0.39
    hits = server.script.hits("/r")
    assert hits[-1].at - hits[0].at >= 0.38


def test_rate_limit_is_thread_safe(server):
    server.script.on("/r", Reply(200, {"ok": 1}))
    sess = session(server, StaticBearer(SECRET, name="RATE_TEST_THREADS"), rate_per_second=20)
    start = time.monotonic()
    threads = [threading.Thread(target=sess.get_json, args=("r",)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - start >= 0.24  # 6 requests at 20/s: 5 gaps of 0.05 s
    assert len(server.script.hits("/r")) == 6


def test_a_spent_on_first_use_grant_is_not_resent_after_a_lost_answer():
    """A rotating refresh token is spent by the first attempt: a read timeout must not re-send it."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ncc_transfer.simulator import run_in_thread

    hits = []

    async def token(request):
        hits.append(1)
        await asyncio.sleep(0.6)
        return JSONResponse({"access_token": "x", "expires_in": 60})

    base, stop = run_in_thread(Starlette(routes=[Route("/token", token, methods=["POST"])]))
    try:
        session = make_session(base, None, route="t", read_timeout=0.2, max_retries=3, backoff_factor=0.01)
        with pytest.raises(VendorError, match="timed out"):
            session.send_unauthenticated("POST", "/token", data={"grant_type": "refresh_token"}, retry_reads=False)
        assert len(hits) == 1
        with pytest.raises(VendorError, match="timed out|retries"):
            session.send_unauthenticated("POST", "/token", data={"grant_type": "client_credentials"})
        assert len(hits) == 1 + 4  # an ordinary token request is retried on a lost answer
        session.close()
    finally:
        stop()


def test_odata_refuses_a_server_page_cap_below_top():
    """A short page that still carries @odata.nextLink means the server capped the page: rows would be lost."""
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from ncc_transfer.connectors.http import odata
    from ncc_transfer.simulator import run_in_thread

    async def rows(request):
        skip = int(request.query_params["$skip"])
        return JSONResponse({"value": [{"n": i} for i in range(skip, min(skip + 3, 10))],
                             **({"@odata.nextLink": "/rows?$skip=3"} if skip + 3 < 10 else {})})

    base, stop = run_in_thread(Starlette(routes=[Route("/rows", rows)]))
    try:
        session = make_session(base, None, route="t")
        with pytest.raises(VendorError, match="pages below"):
            list(odata(session, "/rows", page_size=5))
        assert [r["n"] for r in odata(session, "/rows", page_size=3)] == list(range(10))
    finally:
        stop()
