"""qqscan's root exception, the exit codes every command uses, and which failure class ends a command how.

Exit codes (README, "Exit codes"): 0 ok / all clean; 1 found: an image flagged (scan), a check failed
(health, doctor), a request refused (review, users); 2 input or usage error (bad option, missing file,
bad setting or config file, unsupported database URL, some input failed); 3 a service is unavailable
(Redis or the database cannot be reached); 130 interrupted.

Standard library only, so every layer may import it (tests/test_layers.py: a shared leaf like
ground.settings): every error qqscan raises derives from QqscanError and carries its exit code
(tests/test_errors.py checks that no product exception class is left outside the root). EXIT_BY_CLASS maps
the third-party failures a command can meet (Redis) by qualified name, so mapping them needs
no heavy import.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NoReturn


class ExitCode(IntEnum):
    OK = 0
    FOUND = 1  # scan: some image flagged; health/doctor: a check failed; review/users: request refused
    USAGE = 2  # input or usage error
    UNAVAILABLE = 3  # Redis or the database cannot be reached
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it)


class QqscanError(Exception):
    """Root of qqscan's own errors; `exit_code` says how a command ends on one."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(QqscanError):
    """Bad input, option, setting or configuration: the operator can fix it and run again."""

    exit_code = ExitCode.USAGE


class ServiceUnavailable(QqscanError):
    """Redis or the database cannot be reached (or went away)."""

    exit_code = ExitCode.UNAVAILABLE


# Third-party failure classes (module.qualname) -> exit code; the first class in an exception's MRO that
# is listed wins, so a subclass may be listed apart from its base.
EXIT_BY_CLASS: dict[str, ExitCode] = {
    "redis.exceptions.ConnectionError": ExitCode.UNAVAILABLE,
    "redis.exceptions.TimeoutError": ExitCode.UNAVAILABLE,
    "redis.exceptions.RedisError": ExitCode.UNAVAILABLE,
    "KeyboardInterrupt": ExitCode.INTERRUPTED,
}


def exit_code_for(exc: BaseException, default: ExitCode = ExitCode.USAGE) -> ExitCode:
    """The exit code a command ends with on `exc`."""
    if isinstance(exc, QqscanError):
        return exc.exit_code
    for cls in type(exc).__mro__:
        name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
        if name in EXIT_BY_CLASS:
            return EXIT_BY_CLASS[name]
    return default


def fail(message: str, code: ExitCode | int) -> NoReturn:
    """End a click command with `message` on stderr (`qqscan: message`, qqscan.cli's handler) and exit
    `code`."""
    import click

    error = click.ClickException(message)
    error.exit_code = int(code)
    raise error
