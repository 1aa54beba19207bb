"""Test session set-up shared by every tier.

Integration and end-to-end tests need the real Kafka broker and the Mongo-compatible server;
`make test` starts them (deploy/local/infra.py, profile `test`) and exports their addresses.
The fast tier (`make unit`, `-m "not infra and not e2e"`) needs neither, and must not ask.
"""

from __future__ import annotations

import os
import socket

import pytest

# pytester runs small pytest sessions in a temporary directory (tests/tiers checks this file).
pytest_plugins = ["pytester"]

DEFAULT_KAFKA = "127.0.0.1:19092"
DEFAULT_MONGO = "mongodb://127.0.0.1:27018/?directConnection=true"


def _reachable(host_port: str, default_port: int) -> bool:
    host, sep, port = host_port.rpartition(":")
    if not sep or not port.isdigit():
        host, port = host_port, str(default_port)
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=1):
            return True
    except OSError:
        return False


def _mongo_host(url: str) -> str:
    """The first host of a MongoDB URL (credentials, further hosts and options dropped)."""
    netloc = url.partition("//")[2].split("/", 1)[0].split("?", 1)[0]
    return netloc.rpartition("@")[2].split(",")[0]


# trylast: pytest's own -m/-k deselection is a hook of this name too, and conftest hooks run
# before built-in ones; checking last sees only the tests that will actually run, so the fast
# tier runs with the infrastructure down.
@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.option.collectonly:
        return
    needs_infra = [i for i in items if i.get_closest_marker("infra") or i.get_closest_marker("e2e")]
    if not needs_infra:
        return
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_KAFKA).split(",")[0].strip()
    mongo = _mongo_host(os.environ.get("MONGO_URL", DEFAULT_MONGO))
    missing = [
        name
        for name, addr, port in (("Kafka", kafka, 9092), ("MongoDB", mongo, 27017))
        if not _reachable(addr, port)
    ]
    if missing:
        raise pytest.UsageError(
            f"{' and '.join(missing)} not reachable ({kafka}, {mongo}), needed by "
            f"{len(needs_infra)} selected infra/e2e tests (e.g. {needs_infra[0].nodeid}). Run "
            "the suite with `make test`, which starts the test infrastructure, start it with "
            "`python deploy/local/infra.py up --profile test`, or run only the fast tier with "
            "`make unit`."
        )
