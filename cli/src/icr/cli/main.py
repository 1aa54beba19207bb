"""The `icr` command (typer): tokens, status, dead letters, seed and simulate.

Every command reads the platform's addresses from the environment as `make up` sets them (see
`icr.cli.target`); options check their values before anything is written, and a problem is one
clear line on stderr with a non-zero exit code, never a traceback."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from pymongo.errors import PyMongoError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from icr.cli import org
from icr.cli.gql import Gateway, GraphQLError, Problem
from icr.cli.target import Target, TargetError, resolve

app = typer.Typer(
    name="icr",
    help="ICR's operator and demo tool: tokens, status, dead letters, seed, simulate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
dlq_app = typer.Typer(help="Dead-lettered events: list, show, re-drive (or skip).")
app.add_typer(dlq_app, name="dlq")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

ProfileOpt = Annotated[
    str, typer.Option(help="the local profile whose key signs tokens (dev for `make up`)")
]
IdentityOpt = Annotated[
    str | None,
    typer.Option(
        "--identity-dir",
        help="folder of the development signing key (default $ICR_STATE_DIR/<profile>/identity)",
    ),
]
GatewayOpt = Annotated[
    str | None, typer.Option("--gateway", help="gateway URL (default ICR_GATEWAY_URL or :8000)")
]
AdminOpt = Annotated[str, typer.Option("--admin", help="the administrator who writes")]


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Runs a command's coroutine; the platform's refusals and outages become one line."""
    try:
        return asyncio.run(coro)
    except (GraphQLError, Problem, TargetError) as exc:
        raise fail(str(exc)) from None
    except PyMongoError as exc:
        raise fail(f"the store cannot be reached: {type(exc).__name__}", 3) from None
    except KeyboardInterrupt:
        raise fail("interrupted; run the same command again to continue", 130) from None


def target(profile: str, identity_dir: str | None, gateway: str | None = None) -> Target:
    if profile not in ("dev", "test"):
        raise fail(f"--profile must be dev or test, not {profile!r}", 2)
    return resolve(profile=profile, identity_dir=identity_dir, gateway=gateway)


@app.command()
def token(
    person: Annotated[str, typer.Argument(help="the person id the token names (its subject)")],
    hours: Annotated[float, typer.Option(help="validity in hours (0 to 720)")] = 8.0,
    profile: ProfileOpt = "dev",
    identity_dir: IdentityOpt = None,
) -> None:
    """Print a development bearer token for PERSON, signed with the local platform's key."""
    if not person.strip():
        raise fail("the person id must not be empty", 2)
    if not 0 < hours <= 24 * 30:
        raise fail("--hours must be above 0 and at most 720", 2)
    try:
        print(target(profile, identity_dir).token(person, hours=hours))
    except TargetError as exc:
        raise fail(str(exc), 2) from None


@app.command()
def seed(
    size: Annotated[int, typer.Option(help="people in the organisation (at least 50)")] = 300,
    profile: ProfileOpt = "dev",
    identity_dir: IdentityOpt = None,
    gateway: GatewayOpt = None,
    admin: AdminOpt = "admin",
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="only when the directory has no department yet")
    ] = False,
) -> None:
    """Create the demo organisation through the GraphQL API; running it again changes nothing,
    and an interrupted run continues where it stopped."""
    from icr.cli.seed import DEPARTMENTS, Seeder

    if not 50 <= size <= 20_000:
        raise fail("--size must be between 50 and 20000", 2)
    where = target(profile, identity_dir, gateway)

    async def go() -> None:
        async with Gateway(where) as gw:
            if if_empty and (await gw.query(DEPARTMENTS, actor=admin))["departments"]:
                err.print(
                    "icr seed: the directory is not empty; left as it is (`icr seed` fills in)"
                )
                return
            seeder = Seeder(gw, size=size, admin=admin)
            steps = seeder.steps()
            with _progress() as bars:
                tasks = {name: bars.add_task(name, total=n) for name, n, _ in steps}
                seeder.progress = lambda step, n: bars.advance(tasks[step], n)
                report = await seeder.run()
        table = Table(title=f"icr seed: {len(org.people(size))} people at {where.gateway}")
        for column in ("kind", "created", "updated", "unchanged"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        for kind, c in report.counts.items():
            table.add_row(kind, str(c["created"]), str(c["updated"]), str(c["unchanged"]))
        out.print(table)
        out.print(f"{report.writes} write(s)")

    run(go())


@app.command()
def simulate(
    weeks: Annotated[int, typer.Option(help="simulated working weeks (1 to 52): the volume")] = 4,
    rate: Annotated[float, typer.Option(help="actions sent per second (real time)")] = 20.0,
    seed: Annotated[int, typer.Option(help="the random seed: the same seed, the same run")] = 1,
    size: Annotated[int, typer.Option(help="the seeded organisation's --size")] = 300,
    campaign: Annotated[bool, typer.Option(help="open the quarterly evaluation campaign")] = True,
    journal: Annotated[
        str | None,
        typer.Option(
            help="progress file for resuming (default $ICR_STATE_DIR/simulate-<seed>.json)"
        ),
    ] = None,
    summary_json: Annotated[
        str | None, typer.Option(help="also write the summary as JSON to this file")
    ] = None,
    profile: ProfileOpt = "dev",
    identity_dir: IdentityOpt = None,
    gateway: GatewayOpt = None,
    admin: AdminOpt = "admin",
) -> None:
    """Drive weeks of plausible activity through the GraphQL API (the clock: docs/cli.md); an
    interrupted run continues when started again with the same options."""
    from icr.cli import simulate as sim

    options = sim.Options(weeks=weeks, rate=rate, seed=seed, size=size, campaign=campaign)
    try:
        options.check()
    except sim.PlanError as exc:
        raise fail(str(exc), 2) from None
    where = target(profile, identity_dir, gateway)
    state = Path(os.environ.get("ICR_STATE_DIR") or ".local")
    options.journal = Path(journal) if journal else state / f"simulate-{seed}.json"
    scenarios = sim.plan(options)
    steps = sum(len(s.steps) for s in scenarios)

    async def go() -> sim.Summary:
        async with Gateway(where, concurrency=16) as gw:
            book = sim.Journal(options.journal, sim.fingerprint(options))
            runner = sim.Simulator(gw, options, admin=admin)
            await runner.preflight(scenarios)
            done = sum(book.get(s.key).get("done", 0) for s in scenarios)
            with _progress() as bars:
                total = bars.add_task("actions", total=steps, completed=done)
                submits = bars.add_task("requests", total=len(scenarios))
                bars.update(
                    submits, completed=sum(1 for s in scenarios if book.get(s.key).get("id"))
                )

                def tick(action: str) -> None:
                    bars.advance(total)
                    if action == "submit":
                        bars.advance(submits)

                runner.on_step = tick
                return await runner.run(scenarios, book)

    try:
        summary = run(go())
    except sim.PlanError as exc:
        raise fail(str(exc), 2) from None
    out.print(_summary_table(summary, options, len(scenarios)))
    if summary_json:
        Path(summary_json).write_text(
            json.dumps(
                {
                    "sent": dict(summary.sent),
                    "refused": dict(summary.refused),
                    "stars": {str(k): v for k, v in summary.stars.items()},
                    "not_invited": summary.not_invited,
                    "platform": summary.platform,
                    "elapsed_seconds": round(summary.elapsed, 1),
                    "request_ids": [s.request_id for s in scenarios if s.request_id],
                },
                indent=2,
                default=str,
            )
        )


def _summary_table(summary: Any, options: Any, planned: int) -> Table:
    p = summary.platform
    statuses = p.get("statuses", {})
    table = Table(
        title=f"icr simulate: {options.weeks} week(s), seed {options.seed}, "
        f"{summary.elapsed:.0f} s at up to {options.rate:g} actions/s"
    )
    table.add_column("")
    table.add_column("sent by the simulation", justify="right")
    table.add_column("as the services report", justify="right")
    sent = summary.sent
    rows = [
        ("requests", f"{sent['submit']} of {planned}", str(p.get("requests", 0))),
        ("accepted", str(sent["accept"]), ""),
        (
            "asked the requester",
            str(sent["ask"]),
            str(statuses.get("WAITING_ON_REQUESTER", 0)) + " waiting now",
        ),
        ("resolutions", str(sent["resolve"]), ""),
        ("reopened", str(sent["reopen"]), str(p.get("reopened", 0))),
        ("resolved (not closed)", "", str(statuses.get("RESOLVED", 0))),
        ("closed", str(sent["close"]), str(statuses.get("CLOSED", 0))),
        ("rejected", str(sent["reject"]), str(statuses.get("REJECTED", 0))),
        ("cancelled", str(sent["cancel"]), str(statuses.get("CANCELLED", 0))),
        (
            "breached SLA (sent: left past a target)",
            str(sent["left past a target"]),
            str(p.get("breached", 0)),
        ),
        ("ratings", str(sent["rate"]), str(p.get("rated", 0))),
        (
            "low ratings (1-2 stars): recovery",
            str(summary.stars[1] + summary.stars[2]),
            str(p.get("stars", {}).get(1, 0) + p.get("stars", {}).get(2, 0)),
        ),
        ("recovery requests resolved by managers", str(sent["recovery resolved"]), ""),
        ("not invited to rate (cap, sampling)", str(summary.not_invited), ""),
        ("recognitions given (points)", f"{sent['recognise']} ({sent['recognition points']})", ""),
        (
            "recognitions over the allowance or cap",
            str(sent["recognition over allowance or cap"]),
            "",
        ),
        ("rewards redeemed", str(sent["redeem"]), str(sum(p.get("redemptions", {}).values()))),
        (
            "redemptions fulfilled",
            str(sent["fulfil"]),
            str(p.get("redemptions", {}).get("FULFILLED", 0)),
        ),
        (
            "redemptions cancelled (refunded)",
            str(sent["cancel redemption"]),
            str(p.get("redemptions", {}).get("CANCELLED", 0)),
        ),
        ("steps tried again after a 503", str(sent["retried after a 503"]), ""),
        ("evaluation campaign opened", str(sent["campaign"]), ""),
        ("campaign answers (per department)", str(sent["evaluation"]), ""),
    ]
    for row in rows:
        table.add_row(*row)
    for what, n in sorted(summary.refused.items()):
        table.add_row(f"refused: {what}", str(n), "")
    return table


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
    gateway: GatewayOpt = None,
) -> None:
    """Health of every component, consumer lag, outbox backlog and dead letters (read-only).
    Exits 1 when a component is down."""
    from icr.cli.status import as_dict, collect

    where = resolve(gateway=gateway)
    result = run(collect(where.urls))
    if as_json:
        print(json.dumps(as_dict(result), indent=2))
        raise typer.Exit(0 if result.healthy else 1)
    health = Table(title="components")
    for column in ("component", "state", "detail"):
        health.add_column(column)
    for name, ok, detail in result.components:
        health.add_row(name, "[green]ready[/green]" if ok else "[red]DOWN[/red]", detail)
    out.print(health)
    lag = Table(title="consumer lag (committed offsets behind the end)")
    for column in ("group", "topic", "partitions", "lag"):
        lag.add_column(column, justify="right" if column in ("partitions", "lag") else "left")
    for group, topic, parts, n in result.lag:
        lag.add_row(group, topic, str(parts), f"[yellow]{n}[/yellow]" if n else "0")
    out.print(lag)
    box = Table(title="outbox backlog")
    for column in ("service", "collection", "pending", "oldest (s)"):
        box.add_column(column, justify="right" if column in ("pending", "oldest (s)") else "left")
    for service, collection, n, age in result.outbox:
        box.add_row(service, collection, str(n), f"{age:.1f}")
    out.print(box)
    dead = Table(title="dead letters")
    dead.add_column("topic or service")
    dead.add_column("records / held aggregates", justify="right")
    for topic, n in result.dead_letters:
        dead.add_row(topic, f"[red]{n}[/red]" if n else "0")
    for service, n in result.holds:
        dead.add_row(f"{service} holds", f"[red]{n}[/red]" if n else "0")
    out.print(dead)
    raise typer.Exit(0 if result.healthy else 1)


ServiceOpt = Annotated[str, typer.Option(help="the service: requests, feedback or incentives")]
GroupOpt = Annotated[
    str | None, typer.Option(help="consumer group (with or without KAFKA_TOPIC_PREFIX)")
]


def _services(service: str | None) -> list[str]:
    from icr.cli.dlq import SERVICES

    if service is None:
        return list(SERVICES)
    if service not in SERVICES:
        raise fail(f"--service must be one of {', '.join(SERVICES)}, not {service!r}", 2)
    return [service]


@dlq_app.command("list")
def dlq_list(
    service: Annotated[str | None, typer.Option(help="one service (default: all)")] = None,
    group: GroupOpt = None,
) -> None:
    """Held aggregates: the event that failed, why, and how many later events wait."""
    from icr.cli.dlq import held

    found = run(held(_services(service), group=group))
    table = Table(title="held aggregates (dead-lettered or of an unknown version)")
    for column in ("service", "group", "aggregate", "event", "reason", "parked", "action", "error"):
        table.add_column(column)
    for h in found:
        d = h.doc
        table.add_row(
            h.service, d["group"], d["aggregate_id"], f"{d['event_type']} v{d['version']}",
            d["reason"], str(h.parked), d.get("action") or "-", (d.get("error") or "")[:80],
        )  # fmt: skip
    out.print(table)
    out.print(f"{len(found)} hold(s)")


@dlq_app.command("show")
def dlq_show(
    aggregate: Annotated[str, typer.Argument(help="the held aggregate's id")],
    service: ServiceOpt,
    group: GroupOpt = None,
) -> None:
    """One hold in full: the failed event, its error, and the group's dead-letter records of it."""
    from icr.cli.dlq import dead_letters, event_of, held

    found = run(held(_services(service), group=group, aggregate=aggregate, with_event=True))
    if not found:
        raise fail(f"no hold of aggregate {aggregate!r} in {service}", 1)
    for h in found:
        d = h.doc
        out.rule(f"{d['group']} / {d['aggregate_id']}")
        out.print_json(
            json.dumps(
                {
                    "reason": d["reason"], "error": d.get("error"), "event_id": d["event_id"],
                    "event_type": d["event_type"], "version": d["version"],
                    "sequence": d.get("sequence"), "topic": d["topic"],
                    "partition": d["partition"], "parked": h.parked,
                    "action": d.get("action"), "at": str(d.get("at")),
                    "event": event_of(d),
                },
                default=str,
            )
        )  # fmt: skip
        records = [
            r
            for r in run(dead_letters(d["group"]))
            if (r["event"] or {}).get("event_id") == d["event_id"] or r["key"] == d["aggregate_id"]
        ]
        out.print(f"{len(records)} record(s) on {d['group']}.dlq for this aggregate")
        for r in records:
            out.print_json(json.dumps({k: r[k] for k in ("partition", "offset", "headers")}))


def _act(action: str, aggregate: str, service: str, group: str | None) -> None:
    from icr.cli.dlq import DlqError, act

    _services(service)
    try:
        found = run(act(service, aggregate, action, group))
    except DlqError as exc:
        raise fail(str(exc), exc.code) from None
    for h in found:
        out.print(f"{action} requested for {h.doc['group']} {h.doc['aggregate_id']}")


@dlq_app.command("redrive")
def dlq_redrive(
    aggregate: Annotated[str, typer.Argument(help="the held aggregate's id")],
    service: ServiceOpt,
    group: GroupOpt = None,
) -> None:
    """Apply the failed event again, then the parked ones (the owning consumer does it)."""
    _act("redrive", aggregate, service, group)


@dlq_app.command("skip")
def dlq_skip(
    aggregate: Annotated[str, typer.Argument(help="the held aggregate's id")],
    service: ServiceOpt,
    group: GroupOpt = None,
) -> None:
    """Drop the failed event for good and apply the parked ones."""
    _act("skip", aggregate, service, group)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(show_speed=True),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(app())
