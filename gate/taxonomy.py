"""The failure taxonomy shared by the regression, load, retrieval and docs checks: what went wrong with an answer or a request."""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    """The built-in categories; report.schema.json lists the same (a test keeps them equal)."""

    TIMEOUT = "transport.timeout"
    RATE_LIMITED = "transport.rate_limited"
    SERVER_ERROR = "transport.server_error"
    CONNECTION = "transport.connection"
    CLIENT_ERROR = "transport.client_error"
    EMPTY = "output.empty"
    INVALID_JSON = "output.invalid_json"
    SCHEMA_VIOLATION = "output.schema_violation"
    REFUSAL = "output.refusal"
    TRUNCATED = "output.truncated"
    ASSERTION = "quality.assertion"
    JUDGE = "quality.judge"
    LATENCY = "budget.latency"
    TOKENS = "budget.tokens"
    COST = "budget.cost"
    RETRIEVAL_EMPTY = "retrieval.empty"  # a retriever answered no document for a query
    RETRIEVAL_INVALID = "retrieval.invalid_output"  # its answer is not a ranked list of document ids
    RETRIEVAL_UNJUDGED = "retrieval.unjudged"  # it surfaces documents the relevance labels never judged


# A check or the failure-mode catalogue may add its own category under these prefixes (e.g. output.tool_error);
# a failure-mode document must cover what falls under them, and nothing else.
PREFIXES = ("transport.", "output.", "quality.", "budget.", "retrieval.")
# The schema check's category for a credential found in a file under review: no answer failed, so no prefix.
SECRET = "secret"


def is_failure(category: str) -> bool:
    """Whether a category belongs to the taxonomy (built-in or added under its prefixes)."""
    return category.startswith(PREFIXES)
