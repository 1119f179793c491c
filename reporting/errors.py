"""Domain errors: one base class; the API's exception handler turns them into 400/409 responses."""

from __future__ import annotations


class DomainError(Exception):
    """A request the rules refuse. ``errors`` maps a field (or ``non_field_errors``) to messages."""

    status_code = 400

    def __init__(self, errors: dict[str, list[str]] | str):
        if isinstance(errors, str):
            errors = {"non_field_errors": [errors]}
        super().__init__(errors)
        self.errors = errors


class ConflictError(DomainError):
    """The request is valid but conflicts with the current state (e.g. filing a report already filed)."""

    status_code = 409


class MissingElementsError(DomainError):
    """A report lacks required elements (SPEC rule 8); each missing element is named."""
