"""Test session set-up shared by every tier.

Integration and end-to-end tests need the real Kafka broker and the Mongo-compatible server;
`make test` starts them (deploy/local/infra.py, profile `test`) and exports their addresses.
"""

from __future__ import annotations

import os
import socket

import pytest


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_infra = [i for i in items if i.get_closest_marker("infra") or i.get_closest_marker("e2e")]
    if not needs_infra:
        return
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092").split(",")[0]
    mongo = os.environ.get("MONGO_URL", "mongodb://127.0.0.1:27018").split("//")[1].split("/")[0]
    missing = [
        name for name, addr in (("Kafka", kafka), ("MongoDB", mongo)) if not _reachable(addr)
    ]
    if missing:
        raise pytest.UsageError(
            f"{' and '.join(missing)} not reachable ({kafka}, {mongo}). Run the suite with "
            "`make test`, which starts the test infrastructure, or start it with "
            "`python deploy/local/infra.py up --profile test`."
        )
