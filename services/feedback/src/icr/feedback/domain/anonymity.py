"""Small-group suppression that also holds against subtraction.

A total (a department's campaign answers) is split into parts (one per consumer department) that
add up to it. Each part below the threshold is hidden, but if the total and the other parts are
shown, total minus shown parts is exactly the hidden parts put together: when those hold fewer
than the threshold (but some), the smallest shown parts are hidden too until they do not
(complementary suppression; with every part hidden, what remains is the total itself).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def shown_parts(parts: Mapping[K, int], threshold: int, order: Mapping[K, str]) -> set[K]:
    """The parts of a shown total (sizes by key) that may be shown; `order` breaks ties among
    equal sizes so the choice is the same on every read."""
    shown = {k for k, n in parts.items() if n >= threshold}
    hidden = sum(n for k, n in parts.items() if k not in shown)
    for key in sorted(shown, key=lambda k: (parts[k], order[k])):
        if not 0 < hidden < threshold:
            break
        shown.discard(key)
        hidden += parts[key]
    return shown
