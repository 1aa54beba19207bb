"""Per-request GraphQL context: who is asking, the service clients, fresh DataLoaders."""

from __future__ import annotations

from fastapi import Request
from graphql import GraphQLError
from strawberry.fastapi import BaseContext

from icr.gateway.clients import Clients
from icr.gateway.loaders import Loaders
from icr.kit.auth import Identity, InvalidToken, KeysUnavailable, TokenVerifier, bearer_token


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
        self.loaders = Loaders(clients, self.token)
        self.subscriptions = 0  # live on this (websocket) connection

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
