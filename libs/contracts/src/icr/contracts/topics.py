"""The Kafka topics ICR publishes to, with explicit partition counts.

Topics are created at start by the producing service and by the services consuming them, with
these partitions (auto-creation is off on our brokers).
Every event of one aggregate goes to one topic, keyed by the aggregate id.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    partitions: int
    owner: str

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlq"


REQUESTS = Topic("icr.requests.request", partitions=6, owner="requests")
DIRECTORY = Topic("icr.requests.directory", partitions=3, owner="requests")
CATALOG = Topic("icr.requests.catalog", partitions=3, owner="requests")
RATINGS = Topic("icr.feedback.rating", partitions=6, owner="feedback")
CAMPAIGNS = Topic("icr.feedback.campaign", partitions=3, owner="feedback")
EVALUATIONS = Topic("icr.feedback.evaluation", partitions=3, owner="feedback")
SCORES = Topic("icr.feedback.score", partitions=3, owner="feedback")
LEDGER = Topic("icr.incentives.ledger", partitions=6, owner="incentives")
RECOGNITION = Topic("icr.incentives.recognition", partitions=3, owner="incentives")
REDEMPTIONS = Topic("icr.incentives.redemption", partitions=3, owner="incentives")
POLICY = Topic("icr.incentives.policy", partitions=1, owner="incentives")
LEADERBOARD = Topic("icr.incentives.leaderboard", partitions=3, owner="incentives")
INCENTIVES = (LEDGER, RECOGNITION, REDEMPTIONS, POLICY, LEADERBOARD)

ALL = (REQUESTS, DIRECTORY, CATALOG, RATINGS, CAMPAIGNS, EVALUATIONS, SCORES, *INCENTIVES)


def owned_by(service: str) -> tuple[Topic, ...]:
    return tuple(t for t in ALL if t.owner == service)
