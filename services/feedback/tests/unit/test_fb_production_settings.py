"""Production refuses the public default key of campaign answers.

An answer's id (in the store and in `feedback.evaluation.submitted`) is an HMAC of (campaign,
department, person): with the documented default key, anyone who reads the topic could compute
it for every invitee and put a name on every answer."""

from __future__ import annotations

import pytest
from asgi_lifespan import LifespanManager

from icr.feedback.main import build_app
from icr.feedback.settings import FeedbackSettings
from icr.kit.auth import AuthConfigError

PRODUCTION = {
    "environment": "production",
    "auth_issuer": "https://keycloak.example/realms/acme",
    "auth_jwks_url": "https://keycloak.example/realms/acme/protocol/openid-connect/certs",
    # Unreachable on purpose: the refusal must come before the store is touched.
    "mongo_url": "mongodb://127.0.0.1:1/?directConnection=true",
    "kafka_bootstrap_servers": "127.0.0.1:1",
}


async def test_production_refuses_to_start_with_the_default_answer_key() -> None:
    app = build_app(FeedbackSettings(**PRODUCTION))
    with pytest.raises(AuthConfigError, match="ANSWER_KEY_SECRET"):
        async with LifespanManager(app, startup_timeout=5):
            pass


@pytest.mark.parametrize("secret", ["", "short"])
def test_production_refuses_an_empty_or_short_answer_key(secret: str) -> None:
    with pytest.raises(AuthConfigError, match="ANSWER_KEY_SECRET"):
        FeedbackSettings(**PRODUCTION, answer_key_secret=secret).check_startup()


def test_production_accepts_a_key_of_its_own_and_development_the_default() -> None:
    FeedbackSettings(**PRODUCTION, answer_key_secret="k" * 32).check_startup()
    FeedbackSettings(
        environment="development", auth_issuer="x", auth_jwks_file="unused"
    ).check_startup()
