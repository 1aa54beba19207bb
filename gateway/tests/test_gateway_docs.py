"""Every GraphQL example in docs/graphql.md parses and validates against the schema (and stays
within the limits), so the documentation cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import parse, validate

from icr.gateway.limits import Limits, rules
from icr.gateway.schema import schema

DOC = Path(__file__).resolve().parents[2] / "docs" / "graphql.md"


def test_every_example_in_the_graphql_guide_validates() -> None:
    blocks = re.findall(r"```graphql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        document = parse(block)
        errors = validate(schema._schema, document, [*rules(Limits())])
        assert not errors, (block[:80], errors)
        errors = validate(schema._schema, document)
        assert not errors, (block[:80], errors)
