"""Who may see and do what, as plain functions of the caller (a directory `Member`).

- A requester sees their own ratings (with comments).
- A provider department's manager and agents see its ratings and comments, and the agents
  and managers of that department rate the clarity of its requests.
- Admins see everything and manage campaigns.
- The department matrix: admins and managers see all of it; anyone else the row and column of
  their own department (what it provides and consumes), and its reciprocity.
- Scores of a department (and its pairs) are for its manager and agents and for admins; every
  number below the anonymity threshold is hidden whoever asks.
"""

from __future__ import annotations

from icr.feedback.domain.errors import Forbidden
from icr.feedback.domain.rating import Rating
from icr.kit.directory import MANAGER, Member


def can_see_rating(member: Member, rating: Rating) -> bool:
    return (
        member.is_admin
        or member.person_id == rating.rater_id
        or member.serves_in(rating.provider_department_id)
    )


def check_department_reader(member: Member, department_id: str) -> None:
    if not (member.is_admin or member.serves_in(department_id)):
        raise Forbidden(f"only {department_id}'s manager and agents, or admins, may see this")


def check_admin(member: Member) -> None:
    if not member.is_admin:
        raise Forbidden("only administrators may do this")


def matrix_scope(member: Member) -> str | None:
    """The department whose row and column the caller sees of the department matrix; None for
    the whole matrix (admins, and managers, who run their department's relations with all the
    others)."""
    if member.is_admin or MANAGER in member.roles:
        return None
    return member.department_id


def check_matrix_reader(member: Member, department_id: str) -> None:
    scope = matrix_scope(member)
    if scope is not None and scope != department_id:
        raise Forbidden(f"only {department_id}'s members, managers and admins may see this")
