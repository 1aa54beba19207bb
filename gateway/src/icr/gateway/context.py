"""Per-request GraphQL context: who is asking, the service clients, fresh DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from fastapi import Request
from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from icr.gateway.clients import Clients, Json

K = TypeVar("K")


def _by_key(
    load: Callable[[list[str]], Awaitable[Sequence[Json]]], key: str
) -> DataLoader[str, Json | None]:
    async def batch(ids: list[str]) -> list[Json | None]:
        rows = {row[key]: row for row in await load(ids)}
        return [rows.get(i) for i in ids]

    return DataLoader(load_fn=batch)


class Loaders:
    """One batched call per service per GraphQL query instead of one per field (no N+1)."""

    def __init__(self, clients: Clients, actor_id: str | None) -> None:
        def fetch(client: Any, path: str, param: str) -> Callable[[list[str]], Awaitable[Any]]:
            async def load(ids: list[str]) -> Any:
                return await client.call("GET", path, actor_id=actor_id, params={param: ids})

            return load

        self.requests = _by_key(fetch(clients.requests, "/requests/batch", "id"), "id")
        self.ratings = _by_key(fetch(clients.feedback, "/ratings", "request_id"), "request_id")
        self.tracked = _by_key(
            fetch(clients.incentives, "/tracked-requests", "request_id"), "request_id"
        )


class Context(BaseContext):
    def __init__(self, clients: Clients, actor_id: str | None) -> None:
        super().__init__()
        self.clients = clients
        self.actor_id = actor_id
        self.loaders = Loaders(clients, actor_id)


async def get_context(request: Request) -> Context:
    # Identity: an authenticating proxy in front of the gateway sets X-Actor-Id; the services
    # enforce what that person may see and do.
    clients: Clients = request.app.state.clients
    return Context(clients, request.headers.get("x-actor-id"))
