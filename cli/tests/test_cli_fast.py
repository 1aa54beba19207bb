"""The icr command without a platform: the plan's determinism, the organisation's shape, and
options refused before anything is sent (a gateway address nothing listens on proves it)."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from icr.cli import org
from icr.cli import simulate as sim
from icr.cli.main import app
from icr.kit.devidentity import DevIssuer

runner = CliRunner()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A key folder with a real key, and a gateway that is not there."""
    DevIssuer(tmp_path / "identity")
    monkeypatch.setenv("ICR_GATEWAY_URL", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("ICR_IDENTITY_DIR", str(tmp_path / "identity"))
    monkeypatch.setenv("ICR_STATE_DIR", str(tmp_path))
    return tmp_path


def test_the_same_seed_plans_the_same_run_and_another_seed_another() -> None:
    options = sim.Options(weeks=2, rate=10, seed=5)
    first, again = sim.plan(options), sim.plan(options)
    assert sim.as_json(first) == sim.as_json(again)
    other = sim.plan(sim.Options(weeks=2, rate=10, seed=6))
    assert sim.as_json(other) != sim.as_json(first)


def test_a_plan_has_the_paths_and_ratings_the_docs_promise() -> None:
    scenarios = sim.plan(sim.Options(weeks=4, rate=10, seed=1))
    steps = sim.describe(scenarios)
    assert steps["requests"] == round((300 - 1) * sim.PER_PERSON_WEEK * 4)
    for action in ("accept", "ask", "reply", "resolve", "reopen", "close", "reject", "cancel"):
        assert steps[action] > 0, action
    stars = Counter(st.stars for s in scenarios for st in s.steps if st.action == "rate")
    assert stars[1] + stars[2] > 0
    assert stars[5] > 0
    # Ratings follow speed: the slowest requests are rated lower than the quickest.
    timed = sorted(
        (s.steps[-1].at - s.steps[0].at, st.stars)
        for s in scenarios
        for st in s.steps
        if st.action == "rate"
    )
    tenth = len(timed) // 10
    quick = sum(st for _, st in timed[:tenth]) / tenth
    slow = sum(st for _, st in timed[-tenth:]) / tenth
    assert quick > slow + 0.5
    # Nobody asks their own department, and every step belongs to a known person.
    people = {p["id"]: p for p in org.people(300)}
    for s in scenarios:
        assert people[s.requester]["departmentId"] != s.provider
        assert {st.actor for st in s.steps} <= set(people)


def test_the_organisation_is_stable_as_it_grows() -> None:
    small, large = org.people(300), org.people(600)
    assert len(small) == 300
    assert len(large) == 600
    assert len({p["id"] for p in large}) == 600
    by_id = {p["id"]: p for p in large}
    moved = [p["id"] for p in small if by_id.get(p["id"], {}).get("name") != p["name"]]
    assert len(moved) < len(small) // 4  # the same ids keep their names
    for dept in org.DEPARTMENTS:
        members = [p for p in small if p["departmentId"] == dept.id]
        assert org.manager_of(dept.id) in {p["id"] for p in members}
        if dept.id in org.PROVIDERS:
            assert any("AGENT" in p["roles"] for p in members), dept.id
    assert {i.provider for i in org.CATALOG} <= {d.id for d in org.DEPARTMENTS}
    for item in org.CATALOG:
        assert set(item.targets) == {"low", "medium", "high", "critical"}
        assert item.en
        assert item.zh
        assert item.desc_zh


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "--weeks", "0"], "--weeks must be between 1 and 52"),
        (["simulate", "--rate", "0"], "--rate must be above 0"),
        (["simulate", "--rate", "nan"], "--rate must be above 0"),
        (["simulate", "--size", "10"], "--size must be between 50 and 20000"),
        (["seed", "--size", "10"], "--size must be between 50 and 20000"),
        (["token", " "], "the person id must not be empty"),
        (["token", "ana", "--hours", "0"], "--hours must be above 0"),
        (["dlq", "redrive", "x", "--service", "billing"], "--service must be one of"),
    ],
)
def test_invalid_options_are_clear_errors_before_any_call(
    nowhere: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(nowhere.glob("simulate-*.json"))  # no journal: nothing was started


def test_an_unreachable_gateway_is_one_line_not_a_traceback(nowhere: Path) -> None:
    result = runner.invoke(app, ["seed"])
    assert result.exit_code == 1
    assert "cannot be reached" in result.output
    assert "Traceback" not in result.output


def test_a_token_is_signed_with_the_platforms_key(nowhere: Path) -> None:
    result = runner.invoke(app, ["token", "ana", "--hours", "2"])
    assert result.exit_code == 0, result.output
    issuer = DevIssuer(nowhere / "identity")
    key = jwt.PyJWK(issuer.jwks["keys"][0]).key
    claims = jwt.decode(result.output.strip(), key, algorithms=["ES256"], audience="icr")
    assert claims["sub"] == "ana"
    assert 7100 < claims["exp"] - claims["iat"] <= 7200


def test_no_key_no_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICR_IDENTITY_DIR", str(tmp_path / "none"))
    result = runner.invoke(app, ["token", "ana"])
    assert result.exit_code == 2
    assert "no development signing key" in result.output
    assert not (tmp_path / "none").exists()  # and none was created


def test_a_journal_of_another_run_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.json"
    path.write_text(json.dumps({"fingerprint": "seed=1,weeks=1,size=300", "requests": {}}))
    with pytest.raises(sim.PlanError, match="belongs to another run"):
        sim.Journal(path, "seed=2,weeks=1,size=300")
    journal = sim.Journal(path, "seed=1,weeks=1,size=300")
    journal.put("s1-0000", id="r1", done=2)
    assert sim.Journal(path, "seed=1,weeks=1,size=300").get("s1-0000") == {"id": "r1", "done": 2}
