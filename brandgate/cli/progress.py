"""Progress of a long command: a bar on a terminal, plain lines on stderr under a pipe, nothing under --json.

The bar (rich) shows counts, elapsed time and time left and is drawn on stderr, so stdout keeps
only the command's own output. It is drawn only when stdout is a terminal (someone is watching);
under a pipe or a redirect the same counts go to stderr as plain lines, a few per run rather
than one per item, so logs stay readable. `--json` turns both off: stdout holds one document
and stderr only what went wrong.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any, Literal, TypeVar

T = TypeVar("T")
Mode = Literal["bar", "lines", "off"]

# Under a pipe: a line at the start, each time another tenth is done (or this long has passed), and at the end.
LINE_EVERY_S = 30.0


def mode_for(as_json: bool, stdout: IO[str] | None = None, stderr: IO[str] | None = None) -> Mode:
    if as_json:
        return "off"
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    return "bar" if _isatty(out) and _isatty(err) else "lines"


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class ProgressDisplay:
    """Counts of `unit` done out of `total` for the command `what`; safe to advance from several threads."""

    def __init__(
        self,
        what: str,
        unit: str,
        total: int | None = None,
        *,
        mode: Mode = "lines",
        stream: IO[str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.unit = unit
        self.total = total
        self.done: float = 0
        self.mode = mode
        self._stream = stream
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._last_line_at = self._started
        self._last_line_done: float = -1
        self._bar: Any = None
        self._task: Any = None

    # --- life -----------------------------------------------------------------------------------

    def __enter__(self) -> ProgressDisplay:
        self._started = self._clock()
        if self.mode == "bar":
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            console = Console(file=self._stream or sys.stderr)
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.what, total=self.total)
        elif self.mode == "lines" and self.total is not None:
            self._line()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.mode == "bar" and self._bar is not None:
            self._bar.stop()
        elif self.mode == "lines" and kind is None and self.total is not None and self.done != self._last_line_done:
            self._line()

    # --- counting --------------------------------------------------------------------------------

    def set_total(self, total: int) -> None:
        with self._lock:
            first = self.total is None
            self.total = total
            if self.mode == "bar" and self._bar is not None:
                self._bar.update(self._task, total=total)
            elif self.mode == "lines" and first:
                self._line()

    def update(self, done: float, note: str | None = None) -> None:
        """`done` may be fractional (an image part-way through its steps); lines show whole items."""
        with self._lock:
            self.done = done
            if self.mode == "bar" and self._bar is not None:
                description = self.what if note is None else f"{self.what} {note}"
                self._bar.update(self._task, completed=done, description=description)
            elif self.mode == "lines" and self._line_due():
                self._line(note)

    def advance(self, count: float = 1) -> None:
        self.update(self.done + count)

    def counting(self, items: Iterable[T]) -> Iterator[T]:
        """`items`, advancing the display by one as each is taken."""
        for item in items:
            yield item
            self.advance()

    # --- plain lines -----------------------------------------------------------------------------

    def _line_due(self) -> bool:
        if self.total is None or self.total <= 0:
            return self._clock() - self._last_line_at >= LINE_EVERY_S
        if self.done >= self.total:
            return True
        step = max(1, self.total // 10)
        return (
            self.done - max(self._last_line_done, 0) >= step
            or self._clock() - self._last_line_at >= LINE_EVERY_S
        )

    def _line(self, note: str | None = None) -> None:
        now = self._clock()
        elapsed = now - self._started
        text = f"{self.what}: {int(self.done)}/{self.total if self.total is not None else '?'} {self.unit}"
        if note:
            text += f" ({note})"
        text += f", {duration(elapsed)} elapsed"
        if self.total and 0 < self.done < self.total:
            text += f", about {duration(elapsed / self.done * (self.total - self.done))} left"
        stream = self._stream or sys.stderr
        stream.write(text + "\n")
        stream.flush()
        self._last_line_at = now
        self._last_line_done = self.done
