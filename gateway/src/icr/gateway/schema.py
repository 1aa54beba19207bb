"""The gateway's GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLObjectType
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
from icr.gateway.directory import (
    DirectoryMutation,
    DirectoryQuery,
    Person,
    department_now,
    localized,
    person_now,
)
from icr.gateway.feedback import FeedbackMutation, FeedbackQuery
from icr.gateway.incentives import IncentivesMutation, IncentivesQuery, Me
from icr.gateway.incentives_live import IncentivesSubscription
from icr.gateway.limits import Limits, rules
from icr.gateway.live import LiveSubscription
from icr.gateway.requests import RequestsQuery, ServiceRequest
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
    built = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )
    _call_directly(built)
    return built


# The fields of a portal's every page (`me` and its department and balance, a queue's people,
# departments and catalog items), whose resolvers answer at once from the read cache (else
# return the awaitable that loads). Strawberry wraps each resolver in five calls (its Info,
# argument conversion, extensions) that cost as much as the resolver's own work; these take no
# arguments but `locale`, have no extensions or permissions and read only `info.context`, so
# graphql-core calls them directly. `test_gateway_cache.py` and the domain tests hold the answers.
_DIRECT = (
    ("Query", "me", IncentivesQuery, "me"),
    ("Me", "department", Person, "department"),
    ("Person", "department", Person, "department"),
    ("Me", "balance", Me, "balance"),
    ("Me", "account", Me, "account"),
    ("ServiceRequest", "catalogItem", ServiceRequest, "catalog_item"),
    ("ServiceRequest", "requester", ServiceRequest, "requester"),
    ("ServiceRequest", "assignee", ServiceRequest, "assignee"),
    ("ServiceRequest", "requesterDepartment", ServiceRequest, "requester_department"),
    ("ServiceRequest", "providerDepartment", ServiceRequest, "provider_department"),
)


def _call_directly(built: strawberry.Schema) -> None:
    types = built._schema.type_map
    for type_name, field_name, owner, python_name in _DIRECT:
        function = _resolver_of(owner, python_name)
        assert not inspect.iscoroutinefunction(function), (type_name, field_name)
        _object(types, type_name).fields[field_name].resolve = _direct(function)
    # A department's own fields name their type in their annotations (async resolvers, the
    # only way a class can name itself to strawberry): the same answers, at once when cached.
    department = _object(types, "Department").fields
    department["name"].resolve = lambda row, _info, locale="en": localized(row.names, locale)
    department["manager"].resolve = lambda row, info: person_now(info, row.manager_id)
    department["parent"].resolve = lambda row, info: department_now(info, row.parent_id)


def _object(types: dict[str, Any], name: str) -> GraphQLObjectType:
    found = types[name]
    assert isinstance(found, GraphQLObjectType), name
    return found


def _resolver_of(owner: type, python_name: str) -> Callable[..., Any]:
    definition = owner.__strawberry_definition__  # type: ignore[attr-defined]
    for field in definition.fields:
        if field.python_name == python_name and field.base_resolver is not None:
            function: Callable[..., Any] = field.base_resolver.wrapped_func
            return function
    raise LookupError(f"{owner.__name__}.{python_name} has no resolver")


def _direct(function: Callable[..., Any]) -> Callable[..., Any]:
    def resolve(source: Any, info: Any) -> Any:
        return function(source, info)

    return resolve


schema = build_schema()


if __name__ == "__main__":  # `uv run python -m icr.gateway.schema > gateway/schema.graphql`
    print(schema.as_str())
