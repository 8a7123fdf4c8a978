"""brandgate's own errors; each carries its exit code from the command-line contract (docs/cli.md)."""

from policies.errors import InvalidInput

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_FLAG = 3
EXIT_REJECT = 4
EXIT_NO_CREDENTIALS = 5
# `verify`: no credentials in the file, but it looks like an image of ours (the lookup found it).
EXIT_VISUAL_MATCH = 6


class BrandgateError(Exception):
    """An error with a message that tells the user what to fix; shown without a traceback."""

    exit_code = EXIT_FAILURE


class UserError(BrandgateError):
    """Bad input: a file, flag or value the user gave."""

    exit_code = EXIT_BAD_INPUT


class ConfigError(UserError):
    """A setting or a file named by a setting is wrong."""


class DatabaseError(BrandgateError):
    """The database cannot be reached or is not at the expected schema."""


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILURE",
    "EXIT_FLAG",
    "EXIT_NO_CREDENTIALS",
    "EXIT_OK",
    "EXIT_REJECT",
    "EXIT_VISUAL_MATCH",
    "BrandgateError",
    "ConfigError",
    "DatabaseError",
    "InvalidInput",
    "UserError",
]
