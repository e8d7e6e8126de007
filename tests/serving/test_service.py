"""The BentoML service: the class called directly, its ASGI app over a test client (every kind
of bad request, the bearer token), and a property-based fuzz of its OpenAPI spec."""

from __future__ import annotations

import asyncio
import json
import math
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from serving.bundle import Bundle
from serving.schemas import RankResponse, ScoreResponse


@pytest.fixture(scope="module")
def env(bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SPOTLIGHT_BUNDLE", str(bundle_dir))
        mp.setenv("BENTOML_HOME", str(tmp_path_factory.mktemp("bentoml")))
        mp.setenv("BENTOML_DO_NOT_TRACK", "True")
        mp.delenv("SPOTLIGHT_API_TOKEN", raising=False)
        mp.setenv("SPOTLIGHT_MAX_ROWS", "50")
        yield mp


@pytest.fixture(scope="module")
def client(env: pytest.MonkeyPatch):
    """One ASGI app per process: BentoML registers its Prometheus metrics once."""
    from serving.service import Spotlight

    with TestClient(Spotlight.to_asgi(), raise_server_exceptions=False) as c:
        yield c


def _score_row(bundle: Bundle) -> dict:
    return {"symbol": "X", **{f: 0.5 for f in bundle.manifest.features}}


def test_the_class_called_directly(env: pytest.MonkeyPatch, bundle: Bundle) -> None:
    from serving.service import Spotlight

    svc = Spotlight()
    response = asyncio.run(svc.rank(top_n=3))
    body = RankResponse.model_validate_json(response.body)
    assert [s.symbol for s in body.stocks] == list(bundle.books[bundle.dates[-1]].m_symbol[:3])
    scored = ScoreResponse.model_validate_json(svc.score(rows=[_score_row(bundle)]).body)
    assert len(scored.scores) == 1 and math.isfinite(scored.scores[0].score)
    missing = asyncio.run(svc.rank(as_of=bundle.dates[0].replace(day=1)))
    assert missing.status_code == 404
    assert svc.model()["model"]["version"] == bundle.manifest.model.version


def test_rank_score_and_model_over_asgi(client: TestClient, bundle: Bundle) -> None:
    r = client.post("/rank", json={"top_n": 5, "as_of": str(bundle.dates[-2])})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = RankResponse.model_validate(r.json())
    assert str(body.as_of) == str(bundle.dates[-2]) and len(body.stocks) == 5
    r = client.post("/score", json={"rows": [_score_row(bundle)] * 3})
    assert r.status_code == 200 and len(ScoreResponse.model_validate(r.json()).scores) == 3
    m = client.get("/model").json()
    assert m["model"]["name"] == "spotlight-microcap" and m["bundle_id"] == bundle.manifest.bundle_id
    assert [f["name"] for f in m["features"]] == bundle.manifest.features
    assert m["dates"] == [str(d) for d in bundle.dates] and m["parity"]["top_n_mismatched_dates"] == 0
    assert m["runtime"]["max_rows"] == 50
    for path in ("/livez", "/readyz", "/healthz"):
        assert client.get(path).status_code == 200
    spec = client.get("/docs.json").json()
    assert {"/rank", "/score", "/rebalance", "/model"} <= set(spec["paths"])


@pytest.mark.parametrize("path, body, status, where", [
    ("/rank", b'{"top_n": ', 400, "json_invalid"),
    ("/rank", {"top_n": "5"}, 400, "top_n"),
    ("/rank", {"top_n": 0}, 400, "top_n"),
    ("/rank", {"topn": 5}, 400, "topn"),
    ("/rank", {"universe": {"smallest_n": 5, "cap_band": [1, 2]}}, 400, "exactly one"),
    ("/rank", {"exclude": {"boards": "main"}}, 400, "boards"),
    ("/rank", [1, 2], 400, "model_type"),
    ("/rank", {"as_of": "1999-12-31"}, 404, "as_of"),
    ("/rank", {"as_of": "not a date"}, 400, "as_of"),
    ("/rank", {"universe": {"smallest_n": 500}}, 422, "smallest_n"),
    ("/score", {"rows": [{"symbol": "X", "nope": 1.0}]}, 422, "nope"),
    ("/score", {"rows": [{"symbol": "X"}]}, 422, "missing feature"),
    ("/score", {"rows": "x"}, 400, "rows"),
    ("/score", {}, 400, "rows"),
])
def test_bad_requests_get_4xx_with_the_field_at_fault(client: TestClient, path: str, body, status: int,
                                                      where: str) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post(path, content=content, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    payload = r.json()
    assert set(payload) >= {"error", "detail"} and "Traceback" not in r.text
    assert where in json.dumps(payload)


def test_too_many_rows_is_413_and_a_non_json_body_is_415(client: TestClient, bundle: Bundle) -> None:
    r = client.post("/score", json={"rows": [_score_row(bundle)] * 51})
    assert r.status_code == 413 and "at most 50" in r.json()["error"]
    r = client.post("/rank", content=b"top_n=5", headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and r.json()["detail"][0]["loc"] == ["header", "Content-Type"]
    r = client.post("/rank", content=b"--x--", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 415
    r = client.get("/rank")
    assert r.status_code == 405


def test_unknown_paths_and_wrong_methods_answer_in_the_json_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"
    assert missing.json()["error"].startswith("no such endpoint: GET /nope; the API: POST /rank")
    assert missing.json()["detail"] == [{"loc": ["path"], "msg": "no such endpoint", "type": "not_found"}]
    wrong = client.get("/rank")
    assert wrong.status_code == 405 and wrong.json()["detail"][0]["type"] == "method_not_allowed"
    assert "POST" in wrong.headers["allow"]
    assert client.get("/").headers["content-type"].startswith("text/html")  # other answers untouched


def test_the_model_summary_names_the_bundle_not_the_servers_path(client: TestClient, bundle: Bundle) -> None:
    runtime = client.get("/model").json()["runtime"]
    assert runtime["bundle"] == bundle.path.name and "bundle_path" not in runtime
    assert str(bundle.path.parent) not in json.dumps(runtime)


def test_the_token_check_lets_only_health_through_without_it() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serving.edge import BearerAuth

    ok = Starlette(routes=[Route(p, lambda r: PlainTextResponse("ok")) for p in ("/rank", "/livez", "/readyz")])
    with TestClient(BearerAuth(ok, token="s3cret")) as c:
        assert c.get("/rank").status_code == 401
        assert c.get("/rank", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/rank", headers={"Authorization": "s3cret"}).status_code == 401
        r = c.get("/rank", headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.text == "ok"
        assert c.get("/rank", headers={"Authorization": "bearer s3cret"}).status_code == 200  # scheme: any case
        assert c.get("/livez").status_code == 200 and c.get("/readyz").status_code == 200
    with TestClient(BearerAuth(ok, token="")) as c:  # no token configured: no check
        assert c.get("/rank").status_code == 200


def test_a_body_over_the_byte_limit_is_413_before_it_is_read() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serving.edge import JsonOnly

    async def echo(request):
        return PlainTextResponse(str(len(await request.body())))

    app = JsonOnly(Starlette(routes=[Route("/score", echo, methods=["POST"])]), max_bytes=100)
    with TestClient(app) as c:
        assert c.post("/score", content=b"x" * 100, headers={"content-type": "application/json"}).text == "100"
        r = c.post("/score", content=b"x" * 101, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["detail"][0]["loc"] == ["header", "Content-Length"]


def test_a_chunked_body_is_counted_as_it_streams_and_stopped_at_the_limit() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serving.edge import JsonOnly

    async def echo(request):
        return PlainTextResponse(str(len(await request.body())))

    app = JsonOnly(Starlette(routes=[Route("/score", echo, methods=["POST"])]), max_bytes=100)
    with TestClient(app) as c:  # the service still gets the whole body
        chunked = c.post("/score", content=iter([b"x" * 40, b"x" * 40]), headers={"content-type": "application/json"})
        assert chunked.status_code == 200 and chunked.text == "80"

    pulled: list[int] = []  # a stream of fifty 40-byte chunks, straight into the middleware

    async def receive() -> dict:
        pulled.append(40)
        return {"type": "http.request", "body": b"x" * 40, "more_body": len(pulled) < 50}

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/score", "headers": [(b"content-type", b"application/json")]}
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413 and len(pulled) == 3  # stopped at 120 > 100 bytes
    body = json.loads(sent[1]["body"])
    assert body["detail"][0]["loc"] == ["body"] and "at most 100" in body["error"]


def test_a_stalled_body_is_408_after_the_idle_time_not_504_after_30_s() -> None:
    from serving.edge import JsonOnly

    async def never_reached(scope, receive, send) -> None:
        raise AssertionError("the service got a stalled request")

    chunks = iter([{"type": "http.request", "body": b'{"top_n"', "more_body": True}])

    async def receive() -> dict:
        message = next(chunks, None)
        if message is None:
            await asyncio.sleep(60)  # the client stops sending
        return message

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/rank",
             "headers": [(b"content-type", b"application/json"), (b"content-length", b"20")]}
    app = JsonOnly(never_reached, max_bytes=100, idle_seconds=0.2)
    loop = asyncio.new_event_loop()
    started = loop.time()
    loop.run_until_complete(app(scope, receive, send))
    waited = loop.time() - started
    loop.close()
    assert sent[0]["status"] == 408 and 0.2 <= waited < 5
    assert (b"connection", b"close") in sent[0]["headers"]
    body = json.loads(sent[1]["body"])
    assert body["detail"][0]["loc"] == ["body"] and "SPOTLIGHT_BODY_TIMEOUT_SECONDS" in body["error"]


def test_two_content_types_or_a_non_ascii_one_are_415() -> None:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from serving.edge import JsonOnly

    app = JsonOnly(Starlette(routes=[Route("/rank", lambda r: PlainTextResponse("ok"), methods=["POST"])]))
    with TestClient(app) as c:
        both = c.post("/rank", content=b"{}", headers=[("content-type", "multipart/form-data"),
                                                       ("content-type", "application/json")])
        assert both.status_code == 415 and "one Content-Type header, got 2" in both.json()["error"]
        odd = c.post("/rank", content=b"{}", headers={"content-type": b"application/json; charset=\xff"})
        assert odd.status_code == 415 and odd.json()["detail"][0]["loc"] == ["header", "Content-Type"]
        assert c.post("/rank", content=b"{}", headers={"content-type": "application/json; charset=utf-8"}).text == "ok"


def test_a_client_error_is_logged_in_one_info_line_without_the_input(client: TestClient,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO"):
        assert client.post("/rank", json={"top_n": "secret-value"}).status_code == 400
        assert client.post("/rank", content=b"{bad json", headers={"content-type": "application/json"}).status_code == 400
    mine = [r for r in caplog.records if "answered 400" in r.getMessage()]
    assert [r.getMessage() for r in mine] == ["POST /rank answered 400: top_n: Input should be a valid integer",
                                             "POST /rank answered 400: body: Invalid JSON: key must be a string at "
                                             "line 1 column 2"]
    assert all(r.levelname == "INFO" and r.exc_info is None for r in mine)
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "secret-value" not in caplog.text and "Traceback" not in caplog.text


def test_the_docs_say_what_spotlight_is_with_no_boilerplate_or_tracker(client: TestClient, bundle: Bundle) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Spotlight" in page.text and f"version {bundle.manifest.model.version}" in page.text
    assert "googletagmanager" not in page.text and "BentoML Prediction Service" not in page.text
    assert all(src.startswith("./static_content/") for src in re.findall(r'src="([^"]+)"', page.text))
    info = client.get("/docs.json").json()["info"]
    assert info["title"].startswith("Spotlight") and "None" not in info["version"] and "contact" not in info
    assert "micro-caps" in info["description"] and "Machine Learning Service created with BentoML" not in info["description"]
    assert "whole units" in info["description"] and bundle.manifest.currency in info["description"]


def test_every_documented_example_answers_200(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    posted = 0
    for path in ("/rank", "/score", "/rebalance"):
        examples = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["examples"]
        for name, example in examples.items():
            r = client.post(path, json=example["value"])
            assert r.status_code == 200, (path, name, r.text)
            posted += 1
    assert posted >= 7


def _error_schema(spec: dict, path: str, status: int) -> dict:
    response = spec["paths"][path]["post" if path != "/model" else "get"]["responses"][str(status)]
    ref = response["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    return spec["components"]["schemas"][ref]


@pytest.mark.parametrize(("path", "body", "headers", "status"), [
    ("/rank", {"top_n": "x"}, {}, 400),
    ("/rank", b"{bad json", {}, 400),
    ("/rank", {"as_of": "1990-01-31"}, {}, 404),
    ("/rank", {"universe": {"smallest_n": 10**6}}, {}, 422),
    ("/rank", b"top_n=3", {"content-type": "application/x-www-form-urlencoded"}, 415),
    ("/score", {"rows": [{"symbol": "X", "nope": 1.0}]}, {}, 422),
    ("/score", {"rows": [{"symbol": "X"}] * 51}, {}, 413),
    ("/rebalance", {"capital": 1e6, "holdings": [{"symbol": "NOPE", "shares": 100}]}, {}, 422),
    ("/rebalance", {"capital": -1}, {}, 400),
    ("/rebalance", {"capital": 1e6, "as_of": "1990-01-31"}, {}, 404),
])
def test_every_error_is_documented_with_the_shape_it_has(client: TestClient, path: str, body, headers: dict,
                                                         status: int) -> None:
    spec = client.get("/docs.json").json()
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = client.post(path, content=content, headers={"content-type": "application/json", **headers})
    assert r.status_code == status
    schema, got = _error_schema(spec, path, status), r.json()  # the documented shape, as given
    assert set(schema["required"]) <= set(got) and schema["properties"]["detail"]["type"] == "array"
    entry = schema["properties"]["detail"]["items"]
    assert isinstance(got["error"], str) and "IODescriptor" not in got["error"] and got["detail"]
    for d in got["detail"]:
        assert set(entry["required"]) <= set(d) and isinstance(d["loc"], list) and isinstance(d["msg"], str)


def test_the_request_schema_states_nulls_and_the_one_of_rule(client: TestClient) -> None:
    spec = client.get("/docs.json").json()
    request = spec["paths"]["/rank"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
    assert all(request[name]["nullable"] for name in ("as_of", "universe", "exclude"))
    assert client.post("/rank", json={"as_of": None, "universe": None, "exclude": None, "top_n": 1}).status_code == 200
    universe = spec["components"]["schemas"]["UniverseFilter"]
    assert universe["oneOf"] == [{"required": ["smallest_n"]}, {"required": ["cap_band"]}]
    assert "anyOf" not in universe["properties"]["smallest_n"]  # null is not a value: leave the field out
    for given in ({}, {"smallest_n": 5, "cap_band": [1.0, 2.0]}, {"smallest_n": 5, "cap_band": None}):
        r = client.post("/rank", json={"universe": given})
        assert r.status_code == 400 and r.json()["detail"][0]["loc"] == ["universe"], given
    assert client.post("/rank", json={"universe": {"smallest_n": 5}}).status_code == 200


def test_the_openapi_spec_fuzzed_gives_no_server_error(client: TestClient, env: pytest.MonkeyPatch) -> None:
    """(Last in this module: schemathesis runs the app's lifespan, which ends the client's service.)
    Schemathesis generates valid and invalid bodies for /rank, /score, /rebalance and /model from the
    service's own OpenAPI spec; every answer must be below 500 and a 200 must match the schema."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    raw = client.get("/docs.json").json()
    schema = schemathesis.openapi.from_dict(raw).include(path_regex="^/(rank|score|rebalance|model)$")
    schema.app = client.app
    failures, seen = [], set()
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            response = case.call()
            seen.add((operation.path, response.status_code // 100))
            if response.status_code >= 500:
                failures.append((operation.label, response.status_code, case.body))
            case.validate_response(response, checks=[not_a_server_error])
            if operation.path != "/model":  # every answer, errors too, has its documented shape
                case.validate_response(response, checks=[response_schema_conformance])

        run()
    assert not failures
    assert {("/rank", 2), ("/rank", 4), ("/score", 2), ("/score", 4), ("/rebalance", 2), ("/rebalance", 4),
            ("/model", 2)} <= seen  # both kinds exercised
