"""One vocabulary of actions: each action's REST path is its name, and nothing else is posted."""

from __future__ import annotations

from fastapi.routing import APIRoute

from icr.requests.api.requests import router
from icr.requests.domain.lifecycle import Action, allowed_actions


def test_every_action_is_posted_at_its_own_name_and_only_actions_are() -> None:
    prefix = "/requests/{request_id}/"
    posted = {
        r.path.removeprefix(prefix)
        for r in router.routes
        if isinstance(r, APIRoute) and "POST" in r.methods and r.path.startswith(prefix)
    }
    assert posted == {str(a) for a in Action}


def test_allowed_actions_speak_the_same_words() -> None:
    from icr.requests.domain.lifecycle import Status

    offered = {str(a) for s in Status for a in allowed_actions(s)}
    assert offered == {str(a) for a in Action}
    assert {"start", "ask", "note", "subrequest", "comment"} <= offered
