"""The gateway's GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from icr.gateway.actions import RequestsMutation
from icr.gateway.campaigns import CampaignsMutation, CampaignsQuery
from icr.gateway.catalog import CatalogMutation, CatalogQuery
from icr.gateway.directory import DirectoryMutation, DirectoryQuery
from icr.gateway.feedback import FeedbackMutation, FeedbackQuery
from icr.gateway.incentives import IncentivesMutation, IncentivesQuery
from icr.gateway.incentives_live import IncentivesSubscription
from icr.gateway.limits import Limits, rules
from icr.gateway.live import LiveSubscription
from icr.gateway.requests import RequestsQuery
from icr.gateway.scores import ScoresQuery

Query = merge_types(
    "Query",
    (
        DirectoryQuery,
        CatalogQuery,
        RequestsQuery,
        FeedbackQuery,
        ScoresQuery,
        CampaignsQuery,
        IncentivesQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        DirectoryMutation,
        CatalogMutation,
        RequestsMutation,
        FeedbackMutation,
        CampaignsMutation,
        IncentivesMutation,
    ),
)
Subscription = merge_types("Subscription", (LiveSubscription, IncentivesSubscription))

# Parsed and validated documents are kept by their text: a client's handful of distinct
# queries is parsed and validated once, not on every request (validation was two thirds of
# `{ __typename }`'s time in the profile).
CACHE_SIZE = 1_000


def build_schema(limits: Limits | None = None, *, production: bool = False) -> strawberry.Schema:
    """The schema with the limits enforced; production hides introspection and suggestions."""
    limits = limits or Limits()
    checks = list(rules(limits))
    # Factories, one extension per operation; the caches behind them are shared by size.
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: ParserCache(maxsize=CACHE_SIZE),
        lambda: AddValidationRules(checks),
        lambda: ValidationCache(maxsize=CACHE_SIZE),
    ]
    if production:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )


schema = build_schema()


if __name__ == "__main__":  # `uv run python -m icr.gateway.schema > gateway/schema.graphql`
    print(schema.as_str())
