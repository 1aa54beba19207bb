"""A request's conversation cannot grow it past what one MongoDB document holds."""

from __future__ import annotations

import pytest

from icr.requests.domain import Conflict
from icr.requests.handlers import lifecycle

pytestmark = pytest.mark.infra


async def test_comments_stop_before_the_request_outgrows_its_document(start, new_settings) -> None:
    async with start(new_settings(max_request_grown_bytes=100_000)) as service:
        rid = await service.submit()
        chinese = "需" * 10_000  # 30 kB in UTF-8: the limit counts bytes, not characters
        for _ in range(3):
            await lifecycle.comment(rid, chinese, actor=service.actor("ana"), deps=service.deps)
        with pytest.raises(Conflict, match="too large"):
            await lifecycle.comment(rid, chinese, actor=service.actor("ana"), deps=service.deps)
        stored = await service.deps.requests.get(rid)
        assert stored is not None
        assert len(stored.value.comments) == 3
        # Small actions that keep it under the limit still go through.
        await lifecycle.accept(rid, actor=service.actor("bo"), deps=service.deps)
