"""The HTTP API's refusals, as the issue lists them: 401, 403, 404, 409 and 422."""

from __future__ import annotations

import pytest

from icr.feedback.testing import resolved

pytestmark = pytest.mark.infra


async def test_bad_input_and_refusals(feedback) -> None:
    async with feedback(rating_comment_max=20) as fb:
        await fb.send(resolved("r-api"))
        await fb.rating("r-api")

        nobody = await fb.http.post("/ratings/r-api", json={"stars": 5})
        assert nobody.status_code == 401
        assert nobody.headers["www-authenticate"].startswith("Bearer")
        stranger = await fb.call("GET", "/ratings/mine", "ghost")  # not in the directory
        assert stranger.status_code == 401

        assert (await fb.call("POST", "/ratings/r-api", "cy", json={"stars": 5})).status_code == 403
        assert (await fb.call("POST", "/ratings/nope", "ana", json={"stars": 5})).status_code == 404
        # Someone else's rating is not even visible.
        assert (await fb.call("GET", "/ratings/r-api", "dan")).status_code == 404

        out_of_range = await fb.call("POST", "/ratings/r-api", "ana", json={"stars": 6})
        assert out_of_range.status_code == 422
        assert [f["field"] for f in out_of_range.json()["error"]["fields"]] == ["stars"]
        too_long = await fb.call(
            "POST", "/ratings/r-api", "ana", json={"stars": 4, "comment": "x" * 21}
        )
        assert [f["field"] for f in too_long.json()["error"]["fields"]] == ["comment"]
        unknown = await fb.call("POST", "/ratings/r-api", "ana", json={"stars": 4, "rater": "x"})
        assert unknown.status_code == 422
        operator = await fb.call("GET", "/ratings", "ana", params={"request_id": "$ne"})
        assert operator.status_code == 422
        extra = await fb.call("GET", "/ratings/mine", "ana", params={"sort": "x"})
        assert extra.status_code == 422
        too_many = await fb.call(
            "GET", "/ratings", "ana", params={"request_id": [f"r{i}" for i in range(201)]}
        )
        assert too_many.status_code == 422

        first = await fb.call("POST", "/ratings/r-api", "ana", json={"stars": 4, "comment": "ok"})
        assert first.status_code == 201
        assert (
            await fb.call("POST", "/ratings/r-api", "ana", json={"stars": 5})
        ).status_code == 409

        # The gateway's batch read: the requester's row, and nothing for an outsider.
        mine = await fb.call("GET", "/ratings", "ana", params={"request_id": ["r-api", "x"]})
        assert [(r["request_id"], r["status"], r["stars"]) for r in mine.json()] == [
            ("r-api", "rated", 4)
        ]
        assert (
            await fb.call("GET", "/ratings", "dan", params={"request_id": "r-api"})
        ).json() == []
        # The provider's manager sees its ratings with comments; another department does not.
        listed = await fb.call("GET", "/departments/it/ratings", "ivy")
        assert [(r["request_id"], r["comment"]) for r in listed.json()] == [("r-api", "ok")]
        assert (await fb.call("GET", "/departments/it/ratings", "ana")).status_code == 403
        # Campaign management is for admins; a bad period key is a validation error.
        assert (
            await fb.call("GET", "/scores", "ivy", params={"period": "month", "key": "2026-11"})
        ).status_code == 403
        bad_key = await fb.call(
            "GET", "/scores", "root", params={"period": "month", "key": "2026-13"}
        )
        assert bad_key.status_code == 422
        table = await fb.call(
            "GET", "/scores", "root", params={"period": "month", "key": "2026-11"}
        )
        assert table.status_code == 200
