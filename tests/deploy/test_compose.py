"""docker-compose.yml cannot run here (no Docker engine), so check it against the code."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from icr.feedback.settings import FeedbackSettings
from icr.gateway.settings import GatewaySettings
from icr.incentives.settings import IncentivesSettings
from icr.kit.settings import ServiceSettings
from icr.requests.settings import RequestsSettings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS: dict[str, type[ServiceSettings]] = {
    "requests": RequestsSettings,
    "feedback": FeedbackSettings,
    "incentives": IncentivesSettings,
    "gateway": GatewaySettings,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def test_compose_runs_every_app_and_the_infrastructure(compose) -> None:
    assert set(compose["services"]) == {*SETTINGS, "kafka", "mongo", "mongo-init"}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_app_runs_its_own_module_with_known_settings(compose, name: str) -> None:
    service = compose["services"][name]
    env = {k: str(v) for k, v in service["environment"].items()}
    assert env["APP"] == name
    assert hasattr(importlib.import_module(f"icr.{name}.main"), "app")
    fields = {f.upper() for f in SETTINGS[name].model_fields}
    unknown = set(env) - fields - {"APP"}
    assert not unknown, f"{name} sets variables its settings do not read: {unknown}"
    assert int(env["PORT"]) == SETTINGS[name].model_fields["port"].default
    assert "/health/ready" in " ".join(service["healthcheck"]["test"])
    deps = service["depends_on"]
    assert deps["kafka"]["condition"] == "service_healthy"
    assert deps["mongo-init"]["condition"] == "service_completed_successfully"


def test_only_the_gateways_port_is_published(compose) -> None:
    published = {name: s.get("ports") for name, s in compose["services"].items() if "ports" in s}
    assert published == {"gateway": ["8000:8000"]}
    for name, service in compose["services"].items():
        assert "network_mode" not in service, name  # host networking would expose it too
        assert "expose" not in service or name == "gateway", name


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_each_app_verifies_tokens_of_the_operators_issuer(compose, name: str) -> None:
    env = {k: str(v) for k, v in compose["services"][name]["environment"].items()}
    assert env["ENVIRONMENT"] == "production"  # the development key is refused
    # Required from the operator: compose stops with the message when either is unset.
    assert env["AUTH_ISSUER"].startswith("${AUTH_ISSUER:?")
    assert env["AUTH_JWKS_URL"].startswith("${AUTH_JWKS_URL:?")
    assert "AUTH_JWKS_FILE" not in env
    for optional in ("AUTH_AUDIENCE", "AUTH_SUBJECT_CLAIM", "AUTH_ROLES_CLAIM", "BOOTSTRAP_ADMINS"):
        assert env[optional].startswith(f"${{{optional}:-"), optional


def test_feedback_needs_an_answer_key_of_the_operators(compose) -> None:
    # Production refuses the public default (it would let anyone name campaign respondents).
    env = {k: str(v) for k, v in compose["services"]["feedback"]["environment"].items()}
    assert env["ANSWER_KEY_SECRET"].startswith("${ANSWER_KEY_SECRET:?")
    settings = FeedbackSettings(
        environment="production",
        auth_issuer="https://keycloak.example/realms/acme",
        auth_jwks_url="https://keycloak.example/realms/acme/protocol/openid-connect/certs",
        answer_key_secret="an operator's own key of some length",
    )
    settings.check_startup()


def test_the_compose_settings_make_a_verifier_production_accepts() -> None:
    # What compose gives an app once the operator names a Keycloak realm.
    from icr.kit.auth import TokenVerifier

    settings = ServiceSettings(
        environment="production",
        auth_issuer="https://keycloak.example/realms/acme",
        auth_jwks_url="https://keycloak.example/realms/acme/protocol/openid-connect/certs",
        auth_audience="icr",
        auth_subject_claim="sub",
        auth_roles_claim="",
    )
    assert TokenVerifier(settings).issuer == "https://keycloak.example/realms/acme"


def test_gateway_points_at_the_services_it_combines(compose) -> None:
    gateway = compose["services"]["gateway"]
    for name in ("requests", "feedback", "incentives"):
        port = compose["services"][name]["environment"]["PORT"]
        assert gateway["environment"][f"{name.upper()}_URL"] == f"http://{name}:{port}"
        assert gateway["depends_on"][name]["condition"] == "service_healthy"


def test_mongo_is_a_single_node_replica_set(compose) -> None:
    assert "--replSet" in compose["services"]["mongo"]["command"]
    assert "rs.initiate" in " ".join(compose["services"]["mongo-init"]["command"])
    url = compose["services"]["requests"]["environment"]["MONGO_URL"]
    assert "replicaSet=rs0" in url


def test_kafka_is_kraft_without_topic_auto_creation(compose) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4.")


def test_image_contains_every_workspace_member() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for folder in ("libs", "services", "gateway"):
        assert f"COPY {folder} {folder}" in dockerfile
    assert "uv sync --frozen" in dockerfile
