"""The states a request is in, and which of them it never leaves: the one definition of each.

Kept free of the database so that anything showing or polling a state (the CLI, the bot, metrics,
the regression runner) can name them without loading the state machine (requests/lifecycle.py).
"""

from __future__ import annotations

from typing import Literal

State = Literal["queued", "running", "done", "failed", "cancelled"]
STATES: tuple[State, ...] = ("queued", "running", "done", "failed", "cancelled")
TERMINAL_STATES: tuple[State, ...] = ("done", "failed", "cancelled")
