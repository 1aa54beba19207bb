"""Writes each event's JSON Schema: `python -m icr.contracts.export docs/events`.

One file per event type and version, `<type>.v<version>.json`, describing the whole envelope
with `data` typed as that event. Consumers in other languages generate code from these; a test
fails when the committed files drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from icr.contracts import registry
from icr.contracts.base import Envelope, Event


def schema_for(cls: type[Event]) -> dict[str, Any]:
    envelope = Envelope.model_json_schema()
    data = cls.model_json_schema()
    defs = {**envelope.pop("$defs", {}), **data.pop("$defs", {})}
    envelope["title"] = f"{cls.event_type} v{cls.event_version}"
    envelope["description"] = (cls.__doc__ or "").strip()
    envelope["properties"]["type"] = {"const": cls.event_type, "title": "Type"}
    envelope["properties"]["version"] = {"const": cls.event_version, "title": "Version"}
    envelope["properties"]["data"] = data
    envelope["x-kafka-topic"] = cls.topic.name
    envelope["x-kafka-key"] = cls.aggregate_field
    if defs:
        envelope["$defs"] = defs
    envelope["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return envelope


def render() -> dict[str, str]:
    """File name -> content for every registered event."""
    out = {}
    for cls in sorted(registry.classes(), key=lambda c: (c.event_type, c.event_version)):
        name = f"{cls.event_type}.v{cls.event_version}.json"
        out[name] = json.dumps(schema_for(cls), indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return out


def main(folder: str) -> None:
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    files = render()
    for stale in target.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (target / name).write_text(text)
    print(f"wrote {len(files)} schemas to {target}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/events")
