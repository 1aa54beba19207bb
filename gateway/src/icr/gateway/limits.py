"""Limits on what one GraphQL document may ask for, checked before anything executes.

Each limit is a validation rule, so it runs once per distinct document (the validation cache
keeps the verdict) and applies to HTTP and websocket operations alike. Every refusal carries
an `extensions.code` a client can branch on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
TOO_MANY_OPERATIONS = "TOO_MANY_OPERATIONS"
TOO_COMPLEX = "QUERY_TOO_COMPLEX"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"


@dataclass(frozen=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2_000
    max_operations: int = 10
    max_cost: int = 10_000
    max_page_size: int = 100


def _error(code: str, message: str, limit: int, found: int) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "limit": limit, "found": found})


def _page_size(field: FieldNode, max_page_size: int) -> int:
    """What a list field may return: its literal `first`/`last`, else the largest page (a
    variable or a default could be anything up to it)."""
    for argument in field.arguments or ():
        if argument.name.value in ("first", "last"):
            if isinstance(argument.value, IntValueNode):
                return max(1, min(int(argument.value.value), max_page_size))
            return max_page_size
    return 1


class _Walk:
    """Depth and cost of each operation, following fragments (each visited once per path)."""

    def __init__(self, document: DocumentNode, max_page_size: int) -> None:
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.max_page_size = max_page_size

    def measure(self, selections: SelectionSetNode | None, seen: frozenset[str]) -> tuple[int, int]:
        """(depth, cost) of a selection set; introspection fields count for nothing."""
        depth = cost = 0
        for node in selections.selections if selections else ():
            if isinstance(node, FieldNode):
                if node.name.value.startswith("__"):
                    continue
                below, below_cost = self.measure(node.selection_set, seen)
                depth = max(depth, below + 1)
                cost += 1 + below_cost * _page_size(node, self.max_page_size)
            elif isinstance(node, InlineFragmentNode):
                below, below_cost = self.measure(node.selection_set, seen)
                depth, cost = max(depth, below), cost + below_cost
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # unknown or cyclic: graphql's own rules report it
                below, below_cost = self.measure(fragment.selection_set, seen | {name})
                depth, cost = max(depth, below), cost + below_cost
        return depth, cost


def _count_aliases(document: DocumentNode) -> int:
    count = 0
    stack: list[Any] = list(document.definitions)
    while stack:
        node = stack.pop()
        if isinstance(node, FieldNode) and node.alias is not None:
            count += 1
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            stack.extend(selection_set.selections)
    return count


def rules(limits: Limits) -> tuple[type[ASTValidationRule], ...]:
    """The validation rules enforcing `limits` (one class: one walk of the document)."""

    class DocumentLimits(ASTValidationRule):
        def enter_document(self, node: DocumentNode, *_: Any) -> None:
            operations = [d for d in node.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > limits.max_operations:
                self.report_error(
                    _error(
                        TOO_MANY_OPERATIONS,
                        f"a document may hold at most {limits.max_operations} operations",
                        limits.max_operations,
                        len(operations),
                    )
                )
            aliases = _count_aliases(node)
            if aliases > limits.max_aliases:
                self.report_error(
                    _error(
                        TOO_MANY_ALIASES,
                        f"a document may use at most {limits.max_aliases} aliases",
                        limits.max_aliases,
                        aliases,
                    )
                )
            walk = _Walk(node, limits.max_page_size)
            for operation in operations:
                depth, cost = walk.measure(operation.selection_set, frozenset())
                if depth > limits.max_depth:
                    self.report_error(
                        _error(
                            TOO_DEEP,
                            f"the query is {depth} levels deep; at most {limits.max_depth}",
                            limits.max_depth,
                            depth,
                        )
                    )
                if cost > limits.max_cost:
                    self.report_error(
                        _error(
                            TOO_COMPLEX,
                            f"the query could return {cost} fields; at most {limits.max_cost} "
                            "(a list counts as its page size times its fields)",
                            limits.max_cost,
                            cost,
                        )
                    )

    return (DocumentLimits,)
