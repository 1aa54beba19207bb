"""Per-request GraphQL context: who is asking, the service clients, fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from icr.gateway.auth import Refusal, identify
from icr.gateway.clients import Clients, Json
from icr.kit.auth import Identity


def _by_key(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], key: str
) -> DataLoader[str, Json | None]:
    async def batch(ids: list[str]) -> list[Json | None]:
        rows = {row[key]: row for row in await load(ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=batch)


class Loaders:
    """One batched call per service per GraphQL query instead of one per field (no N+1)."""

    def __init__(self, clients: Clients, context: Context) -> None:
        def fetch(client: Any, path: str, param: str) -> Callable[[list[str]], Awaitable[Any]]:
            async def load(ids: list[str]) -> Any:
                return await client.call("GET", path, token=context.token(), params={param: ids})

            return load

        self.requests = _by_key(fetch(clients.requests, "/requests/batch", "id"), "id")
        self.ratings = _by_key(fetch(clients.feedback, "/ratings", "request_id"), "request_id")
        self.tracked = _by_key(
            fetch(clients.incentives, "/tracked-requests", "request_id"), "request_id"
        )


class Context(BaseContext):
    def __init__(
        self, clients: Clients, identity: Identity | Refusal | None, refusal: str | None = None
    ) -> None:
        super().__init__()
        self.clients = clients
        self.identity = identity if isinstance(identity, Identity) else None
        # `refusal` as a plain message (code UNAUTHENTICATED) is kept for callers of the
        # earlier signature.
        self.refusal = identity if isinstance(identity, Refusal) else None
        if self.identity is None and self.refusal is None and refusal:
            self.refusal = Refusal(refusal)
        self.loaders = Loaders(clients, self)

    def token(self) -> str:
        """The caller's verified token, forwarded to the services; a GraphQL error with code
        UNAUTHENTICATED (or UNAVAILABLE when the issuer's keys cannot be had) otherwise."""
        if self.identity is None:
            raise (self.refusal or Refusal("a bearer token is required")).error()
        return self.identity.token


async def get_context(request: Request) -> Context:
    # The gateway verifies the token itself (an invalid one never reaches a service), then
    # forwards it: each service verifies it again and decides what the person may do.
    clients: Clients = request.app.state.clients
    return Context(clients, await identify(request))
