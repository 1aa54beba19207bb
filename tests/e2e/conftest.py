"""Runs the three services and the gateway as real processes on the test infrastructure."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = int(os.environ.get("ICR_APPS_PORT_BASE", "18000"))
ADMIN = "e2e-admin"


@dataclass
class Platform:
    gateway: str
    requests: str
    feedback: str
    incentives: str
    topic_prefix: str

    def graphql(
        self,
        query: str,
        variables: dict | None = None,
        *,
        actor: str,
        traceparent: str = "",
        correlation_id: str = "",
    ) -> dict:
        headers = {"x-actor-id": actor, **({"traceparent": traceparent} if traceparent else {})}
        if correlation_id:
            headers["x-correlation-id"] = correlation_id
        response = httpx.post(
            f"{self.gateway}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=10,
        )
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body
        return body["data"]


def _apps(command: str, env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy/local/apps.py"), command, "--profile", "test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
    )
    if result.returncode != 0:
        raise RuntimeError(f"apps {command} failed:\n{result.stdout}\n{result.stderr}")


@pytest.fixture(scope="session")
def platform() -> Iterator[Platform]:
    run = secrets.token_hex(3)
    env = {
        **os.environ,
        "ICR_APPS_PORT_BASE": str(BASE),
        "KAFKA_TOPIC_PREFIX": f"e2e{run}.",
        "MONGO_DB_PREFIX": f"e2e{run}_",
        "BOOTSTRAP_ADMINS": ADMIN,
        "OUTBOX_POLL_SECONDS": "0.2",
    }
    _apps("up", env)
    try:
        urls = (f"http://127.0.0.1:{BASE + i}" for i in range(4))
        yield Platform(*urls, topic_prefix=env["KAFKA_TOPIC_PREFIX"])
    finally:
        _apps("down", env)
