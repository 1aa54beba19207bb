"""Per-request GraphQL context: who is asking, the service clients, fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from icr.gateway.clients import Clients, Json
from icr.kit.auth import Identity, InvalidToken, KeysUnavailable, TokenVerifier, bearer_token


def _by_key(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], key: str, max_batch: int | None = None
) -> DataLoader[str, Json | None]:
    async def batch(ids: list[str]) -> list[Json | None]:
        rows = {row[key]: row for row in await load(ids)}
        return [rows.get(i) for i in ids]

    # Keys past a service's batch limit go in further calls, dispatched together.
    return DataLoader(load_fn=batch, max_batch_size=max_batch)


class Loaders:
    """One batched call per service per GraphQL query instead of one per field (no N+1)."""

    def __init__(self, clients: Clients, context: Context) -> None:
        def fetch(client: Any, path: str, param: str) -> Callable[[list[str]], Awaitable[Any]]:
            async def load(ids: list[str]) -> Any:
                return await client.call("GET", path, token=context.token(), params={param: ids})

            return load

        self.requests = _by_key(
            fetch(clients.requests, "/requests/batch", "id"),
            "id",
            clients.settings.requests_batch_limit,
        )
        self.ratings = _by_key(fetch(clients.feedback, "/ratings", "request_id"), "request_id")
        self.tracked = _by_key(
            fetch(clients.incentives, "/tracked-requests", "request_id"), "request_id"
        )


def unauthenticated(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})


class Context(BaseContext):
    def __init__(
        self, clients: Clients, identity: Identity | None, refusal: str | None = None
    ) -> None:
        super().__init__()
        self.clients = clients
        self.identity = identity
        self.refusal = refusal
        self.loaders = Loaders(clients, self)

    def token(self) -> str:
        """The caller's verified token, forwarded to the services; a GraphQL error with code
        UNAUTHENTICATED when the request carries no valid one."""
        if self.identity is None:
            raise unauthenticated(self.refusal or "a bearer token is required")
        return self.identity.token


async def get_context(request: Request) -> Context:
    # The gateway verifies the token itself (an invalid one never reaches a service), then
    # forwards it: each service verifies it again and decides what the person may do.
    clients: Clients = request.app.state.clients
    verifier: TokenVerifier = request.app.state.verifier
    try:
        identity = await verifier.verify(bearer_token(request))
    except InvalidToken as exc:
        return Context(clients, None, str(exc))
    except KeysUnavailable as exc:
        return Context(clients, None, str(exc))
    return Context(clients, identity)
