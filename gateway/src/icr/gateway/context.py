"""Per-request GraphQL context: who is asking, the service clients, fresh DataLoaders."""

from __future__ import annotations

from fastapi import Request
from strawberry.fastapi import BaseContext

from icr.gateway.auth import Refusal, identify
from icr.gateway.clients import Clients
from icr.gateway.loaders import Loaders
from icr.kit.auth import Identity


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
        self.loaders = Loaders(clients, self.token, self.subject)
        self.subscriptions = 0  # live on this (websocket) connection

    def fresh_loaders(self) -> None:
        """New loaders, their memory empty: a websocket's context lives as long as the
        connection, and each event a subscription sends must show things as they are now,
        not as the connection's first event loaded them."""
        self.loaders = Loaders(self.clients, self.token, self.subject)

    def subject(self) -> str:
        """The caller's person id (UNAUTHENTICATED without a valid token)."""
        self.token()
        assert self.identity is not None
        return self.identity.subject

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
