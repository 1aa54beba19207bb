"""The gateway's GraphQL schema: one module per domain, merged here."""

from __future__ import annotations

import strawberry
from strawberry.tools import merge_types

from icr.gateway.requests import RequestsMutation, RequestsQuery

Query = merge_types("Query", (RequestsQuery,))
Mutation = merge_types("Mutation", (RequestsMutation,))

schema = strawberry.Schema(query=Query, mutation=Mutation)
