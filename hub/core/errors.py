"""Field errors: why a document was refused, field by field, without echoing values."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FieldError"]


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason a document was refused.

    Attributes:
        path: Dotted path of the field, e.g. ``payload.applicant.id_no``.
        message: What is wrong, without the value itself.
    """

    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        """As the ``errors[]`` item of a problem document."""
        return {"path": self.path, "message": self.message}
