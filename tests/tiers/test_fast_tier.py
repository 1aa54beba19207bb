"""The fast tier runs with Kafka and the store down; the integration tier says clearly why not.

Each case runs a small pytest session with this repository's root conftest.py, in a temporary
directory, with both infrastructure addresses pointing at ports nothing listens on.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"

TESTS = """
import pytest

def test_pure_logic():
    assert 1 + 1 == 2

@pytest.mark.infra
def test_needs_the_broker():
    raise AssertionError("must not run with the infrastructure down")

@pytest.mark.e2e
def test_runs_the_platform():
    raise AssertionError("must not run with the infrastructure down")
"""


def _closed_port() -> int:
    """A port nothing listens on: bound by us, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    # The sessions need no third-party plugin; loading them all would cost seconds.
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("MONGO_URL", f"mongodb://127.0.0.1:{_closed_port()}/?directConnection=true")
    pytester.makeconftest(ROOT_CONFTEST.read_text())
    pytester.makeini(
        "[pytest]\nmarkers =\n    infra: needs the infrastructure\n    e2e: runs the platform\n"
    )
    pytester.makepyfile(test_tiers=TESTS)
    return pytester


def test_fast_tier_runs_with_kafka_and_the_store_down(session: pytest.Pytester) -> None:
    result = session.runpytest_inprocess("-m", "not infra and not e2e", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1, deselected=2)


def test_selected_infra_tests_fail_at_once_naming_what_is_down(session: pytest.Pytester) -> None:
    result = session.runpytest_inprocess("-m", "infra", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Kafka and MongoDB not reachable*test_needs_the_broker*"])
    result.stdout.no_fnmatch_line("*must not run*")


def test_collecting_needs_no_infrastructure(session: pytest.Pytester) -> None:
    result = session.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*3 tests collected*"])


def test_a_mongo_url_with_credentials_and_replicas_names_only_the_first_host(
    session: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _closed_port()
    monkeypatch.setenv(
        "MONGO_URL", f"mongodb://icr:s3cret@127.0.0.1:{port},127.0.0.2:27017/icr?replicaSet=rs0"
    )
    result = session.runpytest_inprocess("-m", "infra", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*MongoDB not reachable*127.0.0.1:{port})*"])
    assert "s3cret" not in result.stderr.str()  # never echo a password
