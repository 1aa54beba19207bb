"""GraphQL over HTTP: a malformed request is a 400 with a GraphQL error and a code, never a 500;
abusive documents are refused before anything runs, each limit with its own code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from icr.gateway.main import build_app
from icr.gateway.settings import GatewaySettings
from icr.kit.testing import auth_settings_for_test, bearer, running_app


@pytest.fixture(scope="module")
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(**auth_settings_for_test())
    async with running_app(build_app(settings)) as client:
        yield client


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body["errors"]]


@pytest.mark.parametrize(
    "content",
    [b"42", b"null", b'"x"', b"[]", b"[{}]", b"true", b"{", b"", b"{}", b'{"query": 1}'],
    ids=["number", "null", "string", "array", "batch", "bool", "broken", "empty", "none", "int"],
)
async def test_a_body_that_is_not_an_object_with_a_query_is_a_400(
    gateway: httpx.AsyncClient, content: bytes
) -> None:
    response = await gateway.post(
        "/graphql", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    body = response.json()
    assert codes(body) == ["BAD_REQUEST"]
    assert body["errors"][0]["extensions"]["request_id"]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_a_body_that_is_not_json_by_content_type_is_a_400(
    gateway: httpx.AsyncClient, content_type: str
) -> None:
    response = await gateway.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": content_type}
    )
    assert response.status_code == 400, response.text
    assert "application/json" in response.json()["errors"][0]["message"]


async def test_unknown_body_keys_and_bad_variables_are_refused(gateway: httpx.AsyncClient) -> None:
    for body in (
        {"query": "{ __typename }", "extra": 1},
        {"query": "{ __typename }", "variables": [1]},
        {"query": "{ __typename }", "operationName": 3},
    ):
        response = await gateway.post("/graphql", json=body)
        assert response.status_code == 400, (body, response.text)


async def test_a_well_formed_query_is_answered(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_syntax_error_is_a_400_with_its_code(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": "{ __typename "})
    assert response.status_code == 400
    assert codes(response.json()) == ["GRAPHQL_PARSE_FAILED"]


async def test_a_subscription_over_http_is_refused(gateway: httpx.AsyncClient) -> None:
    response = await gateway.post("/graphql", json={"query": "subscription { x }"})
    assert response.status_code == 400


async def test_many_aliases_are_refused(gateway: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f"a{i}: __typename" for i in range(31)) + " }"
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert "TOO_MANY_ALIASES" in codes(response.json())
    within = "{ " + " ".join(f"a{i}: __typename" for i in range(30)) + " }"
    assert (await gateway.post("/graphql", json={"query": within})).status_code == 200


async def test_a_thousand_aliases_are_refused_without_running(gateway: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(f'a{i}: request(id: "r{i}") {{ id }}' for i in range(1000)) + " }"
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 400
    # Refused for its size first (tokens), whatever else is wrong with it.
    assert "TOO_MANY_TOKENS" in codes(response.json())


async def test_too_many_tokens_are_refused(gateway: httpx.AsyncClient) -> None:
    query = "{ " + "__typename " * 2_100 + "}"
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert codes(response.json()) == ["TOO_MANY_TOKENS"]


async def test_too_many_operations_are_refused(gateway: httpx.AsyncClient) -> None:
    query = " ".join(f"query q{i} {{ __typename }}" for i in range(11))
    response = await gateway.post("/graphql", json={"query": query, "operationName": "q0"})
    assert response.status_code == 400
    assert "TOO_MANY_OPERATIONS" in codes(response.json())


def nested(levels: int, inner: str = "id") -> str:
    return "parent { " * levels + inner + " }" * levels


async def test_a_deep_query_is_refused(gateway: httpx.AsyncClient) -> None:
    # Fragments cannot hide depth: each spread is followed. 1 + 5 + 6 + 1 = 13 levels.
    fragment = "fragment F on ServiceRequest { " + nested(6) + " }"
    query = '{ request(id: "x") { ' + nested(5, "...F") + " } } " + fragment
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 400
    assert "QUERY_TOO_DEEP" in codes(response.json())
    within = '{ request(id: "x") { ' + nested(10) + " } }"  # 12 levels
    assert (await gateway.post("/graphql", json={"query": within})).status_code == 200


async def test_introspection_is_not_counted_as_depth(gateway: httpx.AsyncClient) -> None:
    query = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType "
    query += "{ ofType { ofType { ofType { name } } } } } } } } } } } } }"
    response = await gateway.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text


async def test_a_costly_query_is_refused_by_its_page_sizes() -> None:
    settings = GatewaySettings(**auth_settings_for_test(), max_query_cost=200)
    query = "{ requests(first: %s) { nodes { id title } } }"
    async with running_app(build_app(settings)) as gateway:
        # 100 nodes of 2 fields under one field each: 301 > 200.
        costly = await gateway.post("/graphql", json={"query": query % 100})
        assert costly.status_code == 400
        assert codes(costly.json()) == ["QUERY_TOO_COMPLEX"]
        # A variable page size counts as the largest page.
        variable = "query ($n: Int!) { requests(first: $n) { nodes { id title } } }"
        answer = await gateway.post("/graphql", json={"query": variable, "variables": {"n": 1}})
        assert codes(answer.json()) == ["QUERY_TOO_COMPLEX"]
        # 50 nodes: 151, within; it runs (and needs a token).
        cheap = await gateway.post("/graphql", json={"query": query % 50})
        assert cheap.status_code == 200
        assert codes(cheap.json()) == ["UNAUTHENTICATED"]


async def test_an_internal_failure_is_masked_with_a_request_id() -> None:
    # A service answering nonsense makes a resolver fail: the client sees a code and the
    # request id to quote, never the exception's text.
    def nonsense(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"secret": "internal detail"})

    transports = {"requests": httpx.MockTransport(nonsense)}
    settings = GatewaySettings(**auth_settings_for_test())
    async with running_app(build_app(settings, transports=transports)) as gateway:
        response = await gateway.post(
            "/graphql", json={"query": "{ departments { id } }"}, headers=bearer("ana")
        )
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["extensions"]["request_id"]
    assert "secret" not in response.text
    assert "TypeError" not in response.text
    assert error["path"] == ["departments"]


async def test_a_service_down_is_an_error_with_its_code_and_service() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    transports = {"requests": httpx.MockTransport(down)}
    settings = GatewaySettings(**auth_settings_for_test())
    async with running_app(build_app(settings, transports=transports)) as gateway:
        response = await gateway.post(
            "/graphql", json={"query": "{ departments { id } }"}, headers=bearer("ana")
        )
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["service"] == "requests"


def test_production_hides_introspection_and_field_suggestions() -> None:
    from icr.gateway.http import Operations
    from icr.gateway.limits import Limits
    from icr.gateway.schema import build_schema

    limits = Limits()
    production = Operations(build_schema(limits, production=True), limits, production=True)
    refused = production.prepare("{ __schema { types { name } } }")
    assert isinstance(refused, list)
    assert "introspection" in refused[0].message.lower()
    typo = production.prepare('{ reqest(id: "x") { id } }')
    assert isinstance(typo, list)
    assert "Did you mean" not in typo[0].message
    development = Operations(build_schema(limits), limits, production=False)
    assert not isinstance(development.prepare("{ __schema { types { name } } }"), list)
    suggested = development.prepare('{ reqest(id: "x") { id } }')
    assert isinstance(suggested, list)
    assert "Did you mean" in suggested[0].message


async def test_post_graphql_runs_inside_the_kit_s_causation_body_limit_and_metrics() -> None:
    """POST /graphql skips FastAPI's layers, not the kit's: the caller's trace continues in the
    response, a body over the limit is a 413 before anything runs, and the request is counted
    under its route."""
    settings = GatewaySettings(**auth_settings_for_test(), max_body_bytes=2_000)
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    async with running_app(build_app(settings)) as client:
        traced = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"traceparent": caller, "x-request-id": "req-42"},
        )
        assert traced.status_code == 200, traced.text
        version, trace_id, span_id, _ = traced.headers["traceparent"].split("-")
        assert (version, trace_id) == ("00", "0af7651916cd43dd8448eb211c80319c")
        assert span_id != "b7ad6b7169203331"  # a span of its own, the caller's as its parent

        too_big = await client.post("/graphql", json={"query": "{ __typename }" + " " * 3_000})
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "payload_too_large"

        metrics = (await client.get("/metrics")).text
        assert 'icr_http_request_seconds_count{method="POST",route="/graphql",status="200"}' in (
            metrics
        )
