"""ICR event contracts: the envelope, the topics and every published event type.

Importing this package registers all event types in `registry`.
"""

from icr.contracts import feedback, incentives, requests
from icr.contracts.base import Envelope, Event, new_id, utcnow
from icr.contracts.registry import Registry, UnknownEvent, registry
from icr.contracts.topics import ALL as ALL_TOPICS
from icr.contracts.topics import Topic

__all__ = [
    "ALL_TOPICS",
    "Envelope",
    "Event",
    "Registry",
    "Topic",
    "UnknownEvent",
    "feedback",
    "incentives",
    "new_id",
    "registry",
    "requests",
    "utcnow",
]
