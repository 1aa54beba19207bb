"""Who is calling the gateway: its bearer token, verified here and again by every service.

The gateway refuses a bad token itself (it never reaches a service) and forwards a good one
unchanged: each service verifies it and applies its own rules, so the gateway never speaks for
anyone with more rights than the caller has. Refusals are GraphQL errors with a code:
`UNAUTHENTICATED` (no token, a bad one, or a person a service does not know) or `UNAVAILABLE`
(the issuer's keys cannot be fetched: not the caller's fault, worth a retry).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from graphql import GraphQLError

from icr.kit.auth import Identity, InvalidToken, KeysUnavailable, TokenVerifier, bearer_token

UNAUTHENTICATED = "UNAUTHENTICATED"
UNAVAILABLE = "UNAVAILABLE"


def unauthenticated(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": UNAUTHENTICATED})


@dataclass(frozen=True)
class Refusal:
    """Why a request has no identity; raised as a GraphQL error when an operation needs one."""

    message: str
    code: str = UNAUTHENTICATED

    def error(self) -> GraphQLError:
        return GraphQLError(self.message, extensions={"code": self.code})


async def identify(request: Request) -> Identity | Refusal:
    verifier: TokenVerifier = request.app.state.verifier
    try:
        return await verifier.verify(bearer_token(request))
    except InvalidToken as exc:
        return Refusal(str(exc))
    except KeysUnavailable as exc:
        return Refusal(str(exc), UNAVAILABLE)
