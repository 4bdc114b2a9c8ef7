"""Root of the project's exception family and the errors raised for bad input.

The whole tree, rooted here because `models` imports nothing else of the project::

    ProvisionerError
    ├── InputError                  bad input: intent, inventory, certificate files
    │   └── IntentError             one or more problems in an intent file, each with file, line, field
    └── DeviceError                 (provisioner.errors) something happened on or on the way to a device
        ├── DeviceUnreachableError  SSH connect, authentication, host key, timeout
        └── DeviceRefusedError      rpc-error, commit failed, verification mismatch
"""

from __future__ import annotations

from dataclasses import dataclass


class ProvisionerError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(ProvisionerError):
    """Input from a user file or the environment is invalid; nothing was sent to any device."""


@dataclass(frozen=True)
class Problem:
    """One finding in an intent file.

    Attributes:
        source: the file the intent came from, or a label such as ``<string>``.
        line: 1-based line of the offending key or value, when known.
        field: dotted path of the field inside the intent, e.g. ``applets[0].actions[1].mail.port``.
        message: what is wrong and what to do instead. Never contains a secret.
        severity: ``error`` stops every command; ``warning`` is reported and allowed.
    """

    source: str
    line: int | None
    field: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        label = " warning:" if self.severity == "warning" else ""
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{label}{field} {self.message}"


class IntentError(InputError):
    """An intent file failed validation. ``problems`` lists every error found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        count = len(problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"intent is invalid ({count} {noun}):\n{lines}")
