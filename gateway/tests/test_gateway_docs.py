"""Every GraphQL example in docs/graphql.md and the README parses and validates against the
schema (and stays within the limits), so the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import parse, validate

from icr.gateway.limits import Limits, rules
from icr.gateway.schema import schema

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "docs" / "graphql.md", ROOT / "README.md"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_example_in_the_graphql_guide_validates(doc: Path) -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        document = parse(block)
        errors = validate(schema._schema, document, [*rules(Limits())])
        assert not errors, (block[:80], errors)
        errors = validate(schema._schema, document)
        assert not errors, (block[:80], errors)
