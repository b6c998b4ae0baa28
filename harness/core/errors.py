"""Errors the CLI turns into exit codes.

Every problem with user input names where it is (file, line or field path) and what was
expected. Problems are gathered and reported together, one line each, so a user fixes a
file in one pass instead of one error per run.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One located problem in a user's file."""

    file: str
    location: str  # "line 12", "metrics[1].name", or "" when the whole file is at fault
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.location}: {self.message}" if self.location else f"{where}: {self.message}"


class HarnessError(Exception):
    """An error the user can fix; the CLI prints it and exits with code 2."""

    exit_code = 2


class CannotScore(HarnessError):
    """A provider (or its endpoint) cannot do the suite's kind of scoring (log-likelihood on a
    chat-only API); one line naming what it cannot do and the alternative. The run stops."""


class InputProblems(HarnessError):
    """One or more located problems in suites, datasets or other user files."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class UnknownName(HarnessError, KeyError):
    """An unknown registry name; the message suggests the closest names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class EnvironmentFailure(HarnessError):
    """The machine, not the input, failed: a full disk, a read-only or unwritable folder, a file
    that cannot be read. Exit code 4, so that CI can tell it from a blocked gate (1) or bad input (2)."""

    exit_code = 4

    @classmethod
    def from_os_error(cls, e: OSError, doing: str) -> EnvironmentFailure:
        """One line: what we were doing, on which file, and the OS's reason (ENOSPC, EACCES, EROFS...)."""
        import errno

        code = errno.errorcode.get(e.errno or 0, "")
        where = f" {e.filename}" if e.filename else ""
        return cls(f"{doing}{where}: {e.strerror or e}" + (f" ({code})" if code else ""))
