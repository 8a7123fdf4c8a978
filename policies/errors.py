"""Errors a user can cause in what the checks are given: bad briefs, kits, images."""

from pydantic import ValidationError


class InvalidInput(ValueError):
    """Input the user must fix. `where` names the file and/or field at fault."""

    def __init__(self, message: str, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def describe_validation_error(exc: ValidationError) -> str:
    """One clause per bad field, the field named first: 'n: ... (got 10000)'."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "value"
        if err["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field (remove it or check its spelling)")
            continue
        got = err.get("input")
        shown = repr(got) if not isinstance(got, str) or len(got) < 60 else f"{len(got)} characters"
        parts.append(f"{field}: {err['msg']} (got {shown})")
    return "; ".join(parts)
