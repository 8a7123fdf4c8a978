"""Reading a user's file within a size limit: the one place every reader of briefs, kits, images
and manifests refuses what is missing, a folder, special, too large or unreadable.

The size is judged from the file's metadata first, so a huge file is refused without reading it,
and then one byte past the limit is read, so a file that grew after it was measured is refused too.
"""

from __future__ import annotations

import stat
from pathlib import Path

from policies.characters import QUOTE_CHARS, printable
from policies.errors import InvalidInput


def read_bounded(path: Path, limit: int, what: str, *, allow_empty: bool = True, over_limit_hint: str = "") -> bytes:
    """The bytes of `path` (a `what` file: "kit", "image", "manifest"), at most `limit` of them.

    Anything else is `InvalidInput` naming the path and what to do; `over_limit_hint` says how to
    raise the limit where a setting does.
    """
    where = printable(str(path), QUOTE_CHARS)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InvalidInput(f"does not exist (no such {what} file)", where) from None
    except OSError as exc:
        raise InvalidInput(f"cannot be examined ({exc.strerror or type(exc).__name__})", where) from None
    if stat.S_ISDIR(info.st_mode):
        raise InvalidInput(f"is a folder; give one {what} file", where)
    if not stat.S_ISREG(info.st_mode):
        raise InvalidInput(f"is not a regular file; give one {what} file", where)
    if info.st_size == 0 and not allow_empty:
        raise InvalidInput("is empty (0 bytes)", where)
    if info.st_size > limit:
        raise InvalidInput(f"is {info.st_size:,} bytes, over the {limit:,}-byte limit{over_limit_hint}", where)
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)  # one byte past the limit: the file may have grown since stat()
    except OSError as exc:
        raise InvalidInput(
            f"cannot be read ({exc.strerror or type(exc).__name__}); check the file and its permissions", where
        ) from None
    if len(data) > limit:
        raise InvalidInput(f"grew past the {limit:,}-byte limit while being read", where)
    return data
