"""The icr command on a running platform: the demo organisation (idempotent, resumable), a short
simulation whose summary matches what the services report, and refusals before any write."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from icr.cli import org

from .conftest import ROOT, Demo

pytestmark = pytest.mark.e2e

SNAPSHOT = """query($ids: [ID!]!) {
  departments { id names calendar parent { id } manager { id } }
  people(ids: $ids) { id name roles locale active department { id } }
  catalog { id version names descriptions owningTeam defaultPriority
            targets { priority firstResponseMinutes resolutionMinutes } fields { name type } }
  pointsPolicyVersions { version }
  pointsPolicy { version rules { id points } recognition { values } }
  rewards { id names cost stock active }
}"""
MATRIX = """query($key: String!) {
  departmentMatrix(period: {kind: MONTH, key: $key}) { cells { submitted resolved ratings } }
}"""
HISTORY = "query($ids: [ID!]!) { requestsByIds(ids: $ids) { id status history { action } } }"


def snapshot(demo: Demo, size: int = 300) -> dict[str, Any]:
    ids = [p["id"] for p in org.people(size)]
    return demo.platform.graphql(SNAPSHOT, {"ids": ids}, actor="admin")


def matrix_totals(demo: Demo) -> dict[str, int]:
    key = datetime.now(UTC).strftime("%Y-%m")
    cells = demo.platform.graphql(MATRIX, {"key": key}, actor="admin")["departmentMatrix"]["cells"]
    return {k: sum(c[k] for c in cells) for k in ("submitted", "resolved", "ratings")}


def test_a_second_seed_changes_nothing(demo: Demo) -> None:
    before = snapshot(demo)
    assert len(before["departments"]) == len(org.DEPARTMENTS)
    assert all(p is not None for p in before["people"])
    assert {i["id"] for i in before["catalog"]} == {i.id for i in org.CATALOG}
    assert {r["id"] for r in before["rewards"]} == {r.id for r in org.REWARDS}
    assert set(before["pointsPolicy"]["recognition"]["values"]) == set(org.VALUES)
    result = demo.icr("seed")
    assert "0 write(s)" in result.stdout, result.stdout
    assert snapshot(demo) == before


def test_an_interrupted_seed_continues_without_duplicates(demo: Demo) -> None:
    size = 1000  # grows the organisation by 700 people: seconds of writes to interrupt
    new = [p["id"] for p in org.people(size)[len(org.people(300)) :]]
    new = sorted(set(new) - {p["id"] for p in org.people(300)})
    proc = subprocess.Popen(
        [sys.executable, "-m", "icr.cli.main", "seed", "--size", str(size)],
        env=demo.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    query = "query($ids: [ID!]!) { people(ids: $ids) { id } }"
    deadline = time.monotonic() + 60
    while True:  # interrupt once some of the new people are written, well before the end
        written = [
            p for p in demo.platform.graphql(query, {"ids": new}, actor="admin")["people"] if p
        ]
        if len(written) >= 20 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again" in err
    before = len(
        [p for p in demo.platform.graphql(query, {"ids": new}, actor="admin")["people"] if p]
    )
    assert 20 <= before < len(new)
    result = demo.icr("seed", "--size", str(size))
    created = int(re.search(r"person\s*│\s*(\d+)", result.stdout).group(1))  # type: ignore[union-attr]
    assert created == len(new) - before  # only what the first run had not written
    again = demo.icr("seed", "--size", str(size))
    assert "0 write(s)" in again.stdout, again.stdout
    people = snapshot(demo, size)["people"]
    assert all(people)
    assert len({p["id"] for p in people}) == size


def test_a_short_simulation_matches_what_the_services_report(demo: Demo, tmp_path: Path) -> None:
    before = matrix_totals(demo)
    summary_file = tmp_path / "summary.json"
    journal = str(tmp_path / "journal.json")
    args = ["simulate", "--weeks", "1", "--rate", "100", "--seed", "3", "--journal", journal]
    args += ["--summary-json", str(summary_file)]
    result = demo.icr(*args, timeout=400)
    assert "icr simulate" in result.stdout
    summary = json.loads(summary_file.read_text())
    sent, platform = summary["sent"], summary["platform"]
    ids = summary["request_ids"]
    assert len(ids) == len(set(ids)) == sent["submit"] == platform["requests"] > 50
    statuses = platform["statuses"]
    assert statuses.get("CLOSED", 0) == sent.get("close", 0)
    assert statuses.get("REJECTED", 0) == sent.get("reject", 0)
    assert statuses.get("CANCELLED", 0) == sent.get("cancel", 0)
    assert platform["reopened"] == sent.get("reopen", 0)
    assert platform["rated"] == sent.get("rate", 0)
    # Seed 3 forgets urgent password resets past their target: real breaches, as many.
    assert sent["left past a target"] > 0
    assert platform["breached"] == sent["left past a target"]
    assert not summary["refused"], summary["refused"]
    # Incentives: recognition given, rewards redeemed and decided as the service reports.
    assert sent["recognise"] > 0
    redemptions = platform["redemptions"]
    assert sum(redemptions.values()) == sent["redeem"] > 0
    assert redemptions.get("FULFILLED", 0) == sent.get("fulfil", 0)
    assert redemptions.get("CANCELLED", 0) == sent.get("cancel redemption", 0)
    # Resolutions: as sent, as the requests' timelines record them, and in the matrix.
    found = demo.platform.graphql(HISTORY, {"ids": ids}, actor="admin")["requestsByIds"]
    resolves = sum(1 for r in found for h in r["history"] if h["action"] == "resolve")
    assert resolves == sent["resolve"]
    recoveries = sent.get("recovery resolved", 0)
    expected = {
        "submitted": before["submitted"] + sent["submit"] + recoveries,
        "resolved": before["resolved"] + sent["resolve"] + recoveries,
        "ratings": before["ratings"] + sent.get("rate", 0),
    }
    deadline = time.monotonic() + 30
    while (after := matrix_totals(demo)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    assert after == expected
    # Run again: the journal says everything is done, so nothing is submitted twice.
    demo.icr(*args, timeout=400)
    rerun = json.loads(summary_file.read_text())
    assert rerun["request_ids"] == ids
    assert rerun["sent"] == sent  # the journal's whole run: nothing more was sent
    assert matrix_totals(demo)["submitted"] == expected["submitted"]


def test_a_simulation_the_organisation_cannot_carry_writes_nothing(
    demo: Demo, tmp_path: Path
) -> None:
    before = matrix_totals(demo)
    result = demo.icr(
        "simulate",
        "--weeks",
        "1",
        "--size",
        "5000",
        "--seed",
        "4",
        "--journal",
        str(tmp_path / "j.json"),
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "not in the directory" in result.stderr
    assert "icr seed" in result.stderr
    assert "Traceback" not in result.stderr
    assert matrix_totals(demo) == before
