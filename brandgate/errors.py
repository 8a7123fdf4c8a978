"""brandgate's own errors; each carries its exit code from the command-line contract (docs/cli.md)."""

from policies.errors import EXIT_BAD_INPUT, EXIT_FAILURE, BrandgateError, InvalidInput

EXIT_OK = 0
EXIT_FLAG = 3
EXIT_REJECT = 4
EXIT_NO_CREDENTIALS = 5
# `verify`: no credentials in the file, but it looks like an image of ours (the lookup found it).
EXIT_VISUAL_MATCH = 6

# Bad input: a file, flag or value the user gave. One class under two names: the checks raise it as
# InvalidInput (they import nothing of brandgate's), the application as UserError.
UserError = InvalidInput


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
