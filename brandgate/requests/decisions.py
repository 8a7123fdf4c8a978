"""What an image's verdict means for people, defined once: its verdict once a brand manager has
decided, whether it waits for one, and whether it may be exported.

Used by the job views, the bot's buttons and authorisation, the HQ export's intake and the
regression report, so that none of them can disagree on who must look at what.
"""

from __future__ import annotations

from policies.check import Decision, Verdict

# The checks could not decide (unverified) or found something (flag): a brand manager decides.
NEEDS_A_PERSON: tuple[Verdict, ...] = ("unverified", "flag")
# Only what passed on its own, or what a person approved, is usable: exported, counted as usable.
EXPORTABLE: tuple[str, ...] = ("pass", "approved")


def verdict_after(verdict: str, decision: Decision | str | None) -> str:
    """The image's verdict as people see it: a brand manager's decision replaces the checks' verdict."""
    return decision if decision is not None else verdict


def needs_a_person(verdict: str) -> bool:
    return verdict in NEEDS_A_PERSON


def exportable(verdict: str) -> bool:
    return verdict in EXPORTABLE
