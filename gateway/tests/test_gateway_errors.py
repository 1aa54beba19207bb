"""Service error answers become typed GraphQL results; server errors stay errors."""

from __future__ import annotations

import pytest

from icr.gateway.clients import UpstreamError
from icr.gateway.errors import Conflict, Forbidden, InvalidInput, NotFound, problem_from
from icr.gateway.schema import schema


def test_field_errors_are_kept_one_per_field() -> None:
    body = {
        "error": {
            "code": "invalid_input",
            "message": "form invalid",
            "fields": [
                {"field": "title", "code": "required", "message": "must be 1 to 200 characters"},
                {"field": "model", "code": "choice", "message": "must be one of standard, pro"},
            ],
        }
    }
    result = problem_from(UpstreamError("requests", 422, body))
    assert isinstance(result, InvalidInput)
    assert [(f.field, f.message) for f in result.fields] == [
        ("title", "must be 1 to 200 characters"),
        ("model", "must be one of standard, pro"),
    ]


def test_fastapi_validation_details_become_field_errors() -> None:
    body = {"detail": [{"loc": ["body", "title"], "msg": "Field required", "type": "missing"}]}
    result = problem_from(UpstreamError("requests", 422, body))
    assert isinstance(result, InvalidInput)
    assert [(f.field, f.message) for f in result.fields] == [("title", "Field required")]


@pytest.mark.parametrize(
    ("status", "kind"), [(404, NotFound), (403, Forbidden), (401, Forbidden), (409, Conflict)]
)
def test_status_maps_to_its_error_type(status: int, kind: type) -> None:
    body = {"error": {"code": "x", "message": "m", "current_status": "closed"}}
    assert isinstance(problem_from(UpstreamError("requests", status, body)), kind)


def test_conflict_names_the_current_status() -> None:
    body = {"error": {"code": "conflict", "message": "cannot accept", "current_status": "closed"}}
    result = problem_from(UpstreamError("requests", 409, body))
    assert isinstance(result, Conflict)
    assert result.current_status == "closed"


def test_server_errors_are_not_disguised_as_input_problems() -> None:
    with pytest.raises(UpstreamError):
        problem_from(UpstreamError("requests", 503, {"detail": "down"}))


def test_schema_offers_mutations_returning_a_union_with_typed_errors() -> None:
    sdl = schema.as_str()
    assert "submitRequest(input: SubmitRequestInput!): RequestResult!" in sdl
    assert "union RequestResult = ServiceRequest | InvalidInput" in sdl
    assert "rating: Rating" in sdl
    assert "incentives: RequestIncentives" in sdl
