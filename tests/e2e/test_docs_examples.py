"""Every GraphQL example in the README and docs/ runs verbatim against the demo organisation.

The examples are taken from the fenced `graphql` blocks as written; each operation is sent as
the person the docs mean (PERSONAS), with variables pointing at things this test makes first (a
request to accept, a resolved request to rate, a campaign to answer). Queries and mutations must
answer without GraphQL errors, and the mutations the docs show succeeding must succeed.
Subscriptions are validated against the schema (they need a websocket; the gateway's own tests
run them). The directory import's CSV example is posted to the requests service as written."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse, print_ast, validate

from icr.gateway.schema import schema
from icr.kit.testing import bearer

from .conftest import ROOT, Demo

pytestmark = pytest.mark.e2e

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```graphql\n(.*?)```", re.S)
# Who runs each example: by operation name, or by its first field when it has none.
PERSONAS = {
    "Queue": "bo", "Submit": "ana", "Accept": "bo", "ToRate": "ana", "Rate": "ana",
    "Matrix": "admin", "Answer": "ana", "Campaign": "admin", "requests": "bo", "accept": "bo",
    "Mine": "ana",
    # Ana thanks Bo with 20 points, and Bo spends them on a mug (it costs 20).
    "MyPoints": "ana", "RequestPoints": "ana", "Thank": "ana", "Redeem": "bo", "WhatIf": "admin",
}  # fmt: skip
# What the docs show succeeding.
SUCCEEDS = {"Submit": "ServiceRequest", "Accept": "ServiceRequest", "Rate": "Rating",
            "Answer": "EvaluationRecorded", "Thank": "Recognition", "Redeem": "Redemption",
            "WhatIf": "WhatIfReport"}  # fmt: skip
M = "{ __typename ... on ServiceRequest { id status } }"


def examples() -> list[tuple[str, OperationDefinitionNode]]:
    found = []
    for path in DOCS:
        for block in BLOCK.findall(path.read_text(encoding="utf-8")):
            for node in parse(block).definitions:
                assert isinstance(node, OperationDefinitionNode), (path.name, print_ast(node))
                found.append((path.name, node))
    return found


def name_of(node: OperationDefinitionNode) -> str:
    if node.name:
        return node.name.value
    first = node.selection_set.selections[0]
    return str(first.name.value)  # type: ignore[attr-defined]


def act(demo: Demo, actor: str, mutation: str) -> dict[str, Any]:
    data = demo.platform.graphql(mutation, actor=actor)
    result: dict[str, Any] = next(iter(data.values()))
    assert result["__typename"] == "ServiceRequest", result
    return result


@pytest.fixture(scope="module")
def variables(demo: Demo) -> dict[str, Any]:
    submit = (
        'mutation { submitRequest(input: {catalogItemId: "laptop", title: "Docs example", '
        f'form: {{model: "standard"}}}}) {M} }}'
    )
    rated = act(demo, "ana", submit)["id"]
    for action in ("accept", "start"):
        act(demo, "bo", f'mutation {{ {action}(requestId: "{rated}") {M} }}')
    act(demo, "bo", f'mutation {{ resolve(requestId: "{rated}", note: "Done") {M} }}')
    now = datetime.now(UTC)
    opened = demo.platform.graphql(
        'mutation($s: DateTime!, $e: DateTime!) { openCampaign(input: {name: "Docs", '
        'periodStart: $s, periodEnd: $e, questions: [{id: "nps", kind: NPS, texts: {en: "NPS"}}, '
        '{id: "remarks", kind: TEXT, texts: {en: "Remarks"}}]}) '
        "{ __typename ... on Campaign { id } } }",
        {
            "s": (now - timedelta(hours=1)).isoformat(),
            "e": (now + timedelta(minutes=5)).isoformat(),
        },
        actor="admin",
    )["openCampaign"]
    assert opened["__typename"] == "Campaign", opened
    # The invitation to rate follows the resolution's event.
    deadline = time.monotonic() + 30
    query = f'{{ request(id: "{rated}") {{ rating {{ status }} }} }}'
    while (demo.platform.graphql(query, actor="ana")["request"]["rating"] or {}).get(
        "status"
    ) != "INVITED":
        assert time.monotonic() < deadline, "no invitation to rate"
        time.sleep(0.3)
    return {
        # Each Accept example takes on a request of its own (the README and the guide have one).
        "Accept": lambda: {"id": act(demo, "ana", submit)["id"]},
        "Rate": {"id": rated},
        "RequestPoints": {"id": rated},
        "Answer": {"campaign": opened["id"]},
        "Campaign": {"campaign": opened["id"]},
    }


def test_the_docs_have_graphql_examples() -> None:
    names = {name_of(node) for _, node in examples()}
    assert {"Queue", "Submit", "Rate", "Matrix"} <= names
    subscriptions = {"departmentQueue", "Points", "Board", "Live"}
    assert names - set(PERSONAS) <= subscriptions


def test_every_graphql_example_runs_against_the_demo_organisation(
    demo: Demo, variables: dict[str, Any]
) -> None:
    ran = 0
    for doc, node in examples():
        name = name_of(node)
        text = print_ast(node)
        if node.operation.value == "subscription":
            assert not validate(schema._schema, parse(text)), (doc, name)
            continue
        assert name in PERSONAS, f"{doc}: say who runs the example {name!r} (PERSONAS)"
        response = httpx.post(
            f"{demo.platform.gateway}/graphql",
            json={
                "query": text,
                "variables": given() if callable(given := variables.get(name, {})) else given,
            },
            headers=bearer(PERSONAS[name]),
            timeout=15,
        )
        body = response.json()
        assert response.status_code == 200, (doc, name, body)
        assert not body.get("errors"), (doc, name, body["errors"])
        if name in SUCCEEDS:
            result = next(iter(body["data"].values()))
            assert result["__typename"] == SUCCEEDS[name], (doc, name, result)
        ran += 1
    assert ran >= 13


def test_the_directory_import_example_parses_and_imports(demo: Demo) -> None:
    text = (ROOT / "docs" / "requests.md").read_text(encoding="utf-8")
    after = text[text.index("<!-- import-example:") :]
    match = re.search(r"```csv\n(.*?)```", after, re.S)
    assert match is not None
    rows = list(csv.reader(io.StringIO(match.group(1))))
    assert len({len(r) for r in rows}) == 1, "every row has the header's number of cells"
    response = httpx.post(
        f"{demo.platform.requests}/directory/import",
        content=match.group(1).encode(),
        headers={**bearer("admin"), "Content-Type": "text/csv"},
        timeout=15,
    )
    assert response.status_code == 200, response.text
    assert [r["result"] for r in response.json()["rows"]] in (
        ["created"] * 3,
        ["unchanged"] * 3,
    )
    person = demo.platform.graphql('{ person(id: "qa.002") { name roles } }', actor="admin")
    assert person["person"]["name"] == "Smith, Anna"
    assert set(person["person"]["roles"]) == {"AGENT", "EMPLOYEE"}
