"""Errors a user can cause in what the checks are given: bad briefs, kits, images."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from policies.characters import printable, quote

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError

# An error names at most this many fields, each in at most this many characters.
MAX_CLAUSES = 5
FIELD_CHARS = 80
# Our validators' own words; what they quote of the input is kept short where they quote it.
MESSAGE_CHARS = 1000


# Exit codes of the command-line contract (docs/cli.md) that errors carry.
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BrandgateError(Exception):
    """The one base of every error of ours: a message that tells the user what to fix, shown without a
    traceback, and the exit code the command-line contract gives it. It lives in this, the lowest
    package, so that the checks' errors and the application's are one hierarchy."""

    exit_code = EXIT_FAILURE


class InvalidInput(BrandgateError, ValueError):
    """Input the user must fix (brandgate's `UserError` is this class). `where` names the file and/or
    field at fault."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


Model = TypeVar("Model", bound="BaseModel")


def validated(model: type[Model], data: Any, where: str, what: str) -> Model:
    """`data` (already parsed) as a `model`, or InvalidInput at `where` naming each field at fault."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} is a mapping of fields, got {type(data).__name__}", where)
    # pydantic waits until something is validated: every command imports this module for
    # InvalidInput, and `brandgate --help` should not pay for pydantic (start-up time).
    from pydantic import ValidationError

    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc), where) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One clause per bad field, the field named first: 'n: ... (got 10000)'; a few fields at most."""
    errors = exc.errors()
    parts = []
    for err in errors[:MAX_CLAUSES]:
        field = printable(".".join(str(p) for p in err["loc"]), FIELD_CHARS) or "value"
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field (remove it or check its spelling)")
            continue
        got = err.get("input")
        shown = quote(got) if not isinstance(got, str) or len(got) < 60 else f"{len(got)} characters"
        message = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{field}: {printable(message, MESSAGE_CHARS)} (got {shown})")
    if len(errors) > MAX_CLAUSES:
        parts.append(f"and {len(errors) - MAX_CLAUSES} more")
    return "; ".join(parts)
