"""Verifying many files in one call: folders walked, files verified in parallel, the trail asked once per batch."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from brandgate.errors import (
    EXIT_BAD_INPUT,
    EXIT_FLAG,
    EXIT_NO_CREDENTIALS,
    EXIT_OK,
    EXIT_REJECT,
    EXIT_VISUAL_MATCH,
    UserError,
)
from brandgate.settings import Settings
from brandgate.verification import (
    Lookup,
    VerifyReport,
    check_records,
    check_trail_anchors,
    find_visual_matches,
    lookup_not_possible,
    needs_lookup,
    perceptual_hash_of,
    read_within_limit,
    record_to_prove,
    trail_anchor_of,
    verify_bytes,
)
from pipeline.provenance.sidecar import sidecar_path
from pipeline.provenance.verifier import Verifier
from policies.characters import printable

# The exit code of a call over many files is the worst of theirs, worst first (docs/cli.md):
# tampered, then signed by someone not trusted, then without credentials and unknown to the trail,
# then without credentials but a stripped copy of ours (each a finding about a file), then a file
# that could not be verified at all; 0 only when every file is trusted.
EXIT_ORDER = (EXIT_REJECT, EXIT_FLAG, EXIT_NO_CREDENTIALS, EXIT_VISUAL_MATCH, EXIT_BAD_INPUT, EXIT_OK)
# Files whose trail questions (visual lookups, anchor checks) go to the database together; their
# lines are printed when the batch is answered, so a long run shows progress.
TRAIL_BATCH = 256
# Files a worker process takes at a time: fewer round trips between processes.
CHUNK = 8
# What a file's state is called in the closing count, in the order of EXIT_ORDER.
STATE_WORDS = {
    "invalid": "invalid or tampered",
    "valid": "valid but not trusted",
    "no_credentials": "without credentials",
    "not_verified": "not verified",
    "trusted": "trusted",
}


@dataclass(frozen=True)
class FileOutcome:
    """One file of a many-file `verify`: its report, or why it could not be verified."""

    file: Path
    report: VerifyReport | None = None
    problem: str | None = None

    @property
    def state(self) -> str:
        return "not_verified" if self.report is None else self.report.credentials.state

    @property
    def exit_code(self) -> int:
        return EXIT_BAD_INPUT if self.report is None else self.report.exit_code

    @property
    def summary(self) -> str:
        return f"not verified: {self.problem}" if self.report is None else self.report.summary

    def line(self) -> str:
        """One line whatever the file is called: a name with a line break cannot forge another file's line."""
        return printable(f"{shown_name(self.file)}: {self.summary}")

    def to_json(self) -> dict[str, Any]:
        if self.report is not None:
            return self.report.to_json()
        return {
            "file": str(self.file),
            "state": "not_verified",
            "exit_code": EXIT_BAD_INPUT,
            "summary": self.summary,
            "problem": self.problem,
        }


def shown_name(path: Path) -> str:
    """The file's name as a line shows it: quoted and escaped when it could be misread."""
    name = str(path)
    if name.isprintable() and ": " not in name and name == name.strip() and not name.startswith(("'", '"')):
        return name
    return repr(name)


def worst_exit_code(codes: Iterable[int]) -> int:
    found = set(codes)
    return next((code for code in EXIT_ORDER if code in found), EXIT_OK)


def files_to_verify(paths: Sequence[Path]) -> list[Path]:
    """Each FILE as given, and every file under each folder, sorted by path (manifest sidecars left out).

    A path that does not exist stops the call before anything is verified (bad input, exit 2).
    Links to folders are not followed, so a loop of links cannot walk forever.
    """
    files: list[Path] = []
    for path in paths:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise UserError(f"{printable(str(path))} does not exist") from None
        except OSError as exc:
            raise UserError(f"{printable(str(path))} cannot be examined ({exc.strerror})") from None
        if not stat.S_ISDIR(mode):
            files.append(path)
            continue
        found: list[Path] = []
        for folder, _, names in os.walk(path, onerror=_refuse_walk):
            found.extend(Path(folder) / name for name in names if not _is_sidecar(Path(folder) / name))
        if not found:
            raise UserError(f"{printable(str(path))} is a folder with no files to verify in it")
        files.extend(sorted(found))
    return files


def _refuse_walk(exc: OSError) -> None:
    raise UserError(f"{printable(str(exc.filename))} cannot be listed ({exc.strerror})")


def _is_sidecar(path: Path) -> bool:
    """`NAME.c2pa` is the manifest store of an image beside it; it is verified with `--manifest`."""
    return path.suffix == ".c2pa" and path == sidecar_path(path)


@dataclass(frozen=True)
class FileRead:
    """What a worker found in one file: the outcome so far, and what the trail must be asked."""

    outcome: FileOutcome
    phash: str | None = None
    phash_problem: str | None = None


# What a worker process verifies with, made once when the pool starts.
_worker: tuple[Settings, Verifier] | None = None


def _start_worker(settings: Settings) -> None:
    global _worker
    _worker = (settings, Verifier.from_settings(settings))


def _read_one(path: Path) -> FileRead:
    assert _worker is not None, "_start_worker runs first"
    return read_file(path, *_worker)


def read_file(path: Path, settings: Settings, verifier: Verifier) -> FileRead:
    """Verify one file's credentials, leaving the trail questions to the batch."""
    try:
        data = read_within_limit(path, settings.max_image_bytes)
        report = verify_bytes(data, settings, path, consult_trail=False, verifier=verifier)
    except UserError as exc:
        # The message names the file already in the line; say only what is wrong with it.
        return FileRead(FileOutcome(path, problem=str(exc).removeprefix(f"{path}: ")))
    if not needs_lookup(report.credentials):
        return FileRead(FileOutcome(path, report))
    # The perceptual hash is worked out here, in parallel; only the search waits for the batch.
    try:
        return FileRead(FileOutcome(path, report), phash=perceptual_hash_of(data, settings.max_image_pixels))
    except ValueError as exc:
        return FileRead(FileOutcome(path, report), phash_problem=str(exc))


def verify_many(files: Sequence[Path], settings: Settings, jobs: int) -> Iterator[FileOutcome]:
    """Each file's outcome, in the order given; `jobs` processes read the credentials."""
    # A trust-anchor file that cannot be read stops the call here, before any file is read.
    verifier = Verifier.from_settings(settings)
    if jobs <= 1 or len(files) <= 1:
        yield from _answered((read_file(path, settings, verifier) for path in files), settings)
        return
    with ProcessPoolExecutor(max_workers=min(jobs, len(files)), initializer=_start_worker,
                             initargs=(settings,)) as pool:  # fmt: skip
        yield from _answered(pool.map(_read_one, files, chunksize=CHUNK), settings)


def _answered(reads: Iterable[FileRead], settings: Settings) -> Iterator[FileOutcome]:
    batch: list[FileRead] = []
    for read in reads:
        batch.append(read)
        if len(batch) == TRAIL_BATCH:
            yield from _ask_trail(batch, settings)
            batch = []
    yield from _ask_trail(batch, settings)


def _ask_trail(batch: list[FileRead], settings: Settings) -> list[FileOutcome]:
    """The batch's outcomes with their lookups, anchor and record checks: one connection for each kind."""
    lookups: dict[int, Lookup] = {}
    hashed = [(i, read.phash) for i, read in enumerate(batch) if read.phash is not None]
    for (i, _), lookup in zip(hashed, find_visual_matches([phash for _, phash in hashed], settings), strict=True):
        lookups[i] = lookup
    for i, read in enumerate(batch):
        if read.phash_problem is not None:
            lookups[i] = lookup_not_possible(read.phash_problem)
    anchored = [(i, anchor) for i, read in enumerate(batch) if (anchor := _anchor_of(read)) is not None]
    checks = dict(zip((i for i, _ in anchored), check_trail_anchors([a for _, a in anchored], settings), strict=True))
    proving = []
    for i, check in checks.items():
        report = batch[i].outcome.report
        assert report is not None  # only files with a report carry an anchor
        if (record := record_to_prove(report.credentials, check)) is not None:
            proving.append((i, record))
    records = dict(zip((i for i, _ in proving), check_records([r for _, r in proving], settings), strict=True))
    outcomes = []
    for i, read in enumerate(batch):
        report = read.outcome.report
        if report is not None and (i in lookups or i in checks):
            report = replace(report, lookup=lookups.get(i), anchor=checks.get(i), record=records.get(i))
            outcomes.append(replace(read.outcome, report=report))
        else:
            outcomes.append(read.outcome)
    return outcomes


def _anchor_of(read: FileRead) -> tuple[int, str, tuple[str | None, str | None]] | None:
    report = read.outcome.report
    if report is None or needs_lookup(report.credentials):
        return None
    return trail_anchor_of(report.credentials)


def tally(counts: Counter[str]) -> str:
    """The closing count of files by state: 'verified 3 files: 1 invalid or tampered, 2 trusted'."""
    total = sum(counts.values())
    parts = [f"{counts[state]} {word}" for state, word in STATE_WORDS.items() if counts[state]]
    return f"verified {total:,} file{'s' if total != 1 else ''}: {', '.join(parts)}"


def default_jobs() -> int:
    """The cores this process may run on."""
    affinity: Callable[[int], set[int]] | None = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
