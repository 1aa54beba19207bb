"""The committed SDL (gateway/schema.graphql) is the schema the code serves: front-end teams
read and diff it. Regenerate with `uv run python -m icr.gateway.schema > gateway/schema.graphql`."""

from __future__ import annotations

from pathlib import Path

from icr.gateway.schema import schema

SDL = Path(__file__).resolve().parents[1] / "schema.graphql"


def test_the_committed_sdl_matches_the_code() -> None:
    assert SDL.read_text() == schema.as_str() + "\n", (
        "the schema changed: uv run python -m icr.gateway.schema > gateway/schema.graphql"
    )
