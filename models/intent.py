"""The device intent and loading it from YAML with errors that name the file, line and field."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from models.eem import Applet, EnvironmentValue, MailServer, check_variable_name
from models.errors import IntentError, Problem
from models.pki import Trustpoint


class Intent(BaseModel):
    """Everything one device should have: EEM environment variables, applets and trustpoints.

    The intent owns exactly the objects it names; anything else on the device is left alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: dict[str, EnvironmentValue] = Field(default_factory=dict)
    applets: list[Applet] = Field(default_factory=list)
    trustpoints: list[Trustpoint] = Field(default_factory=list)

    @field_validator("environment")
    @classmethod
    def _names_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            check_variable_name(name)
        return value

    @model_validator(mode="after")
    def _names_unique(self) -> Intent:
        for kind, names in (
            ("applet", [applet.name for applet in self.applets]),
            ("trustpoint", [trustpoint.name for trustpoint in self.trustpoints]),
        ):
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise ValueError(f"{kind} names must be unique; repeated: {', '.join(duplicates)}")
        return self

    def mail_servers(self) -> dict[str, MailServer]:
        """Return the environment variables whose value is an SMTP server string."""
        return {name: value for name, value in self.environment.items() if isinstance(value, MailServer)}

    def secrets(self) -> list[str]:
        """Return every secret value this intent carries, for redaction in logs and output."""
        found: list[str] = []
        for server in self.mail_servers().values():
            if server.password is not None:
                found.append(server.password.get_secret_value())
                found.append(server.server_string(reveal=True))
        return found


# Discriminator tags that pydantic puts into error locations; they are not keys of the YAML file.
_TAG_SEGMENTS = {"text", "server"}


def load_intent(
    path: str | os.PathLike[str],
    *,
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
) -> Intent:
    """Read and validate an intent file.

    Args:
        path: the YAML file.
        environ: where ``password_env`` variables are looked up; defaults to ``os.environ``.
        resolve_secrets: when false, passwords are not looked up (for offline rendering, which
            masks them anyway) and a missing variable is not an error.

    Raises:
        IntentError: the file cannot be read or parsed, or it fails validation. Every problem is
            listed with file, line and field.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise IntentError([Problem(source, None, "", f"cannot read the intent file: {error.strerror}")]) from None
    except UnicodeDecodeError as error:
        raise IntentError([Problem(source, None, "", f"the intent file is not UTF-8 text: {error.reason}")]) from None
    return parse_intent(
        text, source=source, environ=environ, resolve_secrets=resolve_secrets, base_dir=Path(path).parent
    )


def parse_intent(
    text: str,
    *,
    source: str = "<string>",
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
    base_dir: Path | None = None,
) -> Intent:
    """Validate intent YAML given as text; see :func:`load_intent`."""
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as error:
        line = error.problem_mark.line + 1 if error.problem_mark is not None else None
        # ruamel.yaml quotes both values of a duplicate key; they may be secrets, so drop them.
        problem = re.sub(r' with value ".*', "", str(error.problem))
        raise IntentError([Problem(source, line, "", f"invalid YAML: {problem}")]) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise IntentError([Problem(source, 1, "", "the intent must be a mapping with environment, applets, trustpoints")])

    lookup: Mapping[str, str] | None = None
    if resolve_secrets:
        lookup = os.environ if environ is None else environ
    context = {"from_file": True, "environ": lookup}
    try:
        intent = Intent.model_validate(_plain(document), context=context)
    except ValidationError as error:
        raise IntentError(_problems(error, document, source)) from None

    if base_dir is not None:
        intent = _resolve_paths(intent, base_dir)
    return intent


def _resolve_paths(intent: Intent, base_dir: Path) -> Intent:
    # Certificate paths in an intent are relative to the intent file, not to the working directory.
    trustpoints = [
        trustpoint.model_copy(update={"certificate": base_dir / trustpoint.certificate})
        if trustpoint.certificate is not None and not trustpoint.certificate.is_absolute()
        else trustpoint
        for trustpoint in intent.trustpoints
    ]
    return intent.model_copy(update={"trustpoints": trustpoints})


def _plain(node: Any) -> Any:
    if isinstance(node, CommentedMap):
        return {str(key) if not isinstance(key, (int, float)) else key: _plain(value) for key, value in node.items()}
    if isinstance(node, CommentedSeq):
        return [_plain(item) for item in node]
    if isinstance(node, str):
        return str(node)
    return node


def _problems(error: ValidationError, document: CommentedMap, source: str) -> list[Problem]:
    problems = []
    for detail in error.errors(include_input=False, include_url=False):
        location = [segment for segment in detail["loc"] if segment not in _TAG_SEGMENTS]
        message = detail["msg"].removeprefix("Value error, ")
        if detail["type"] == "extra_forbidden":
            message = "unknown key; remove it or check its spelling"
        problems.append(Problem(source, _line_of(document, location), _dotted(location), message))
    return problems


def _dotted(location: list[int | str]) -> str:
    text = ""
    for segment in location:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else str(segment)
    return text


def _line_of(document: CommentedMap, location: list[int | str]) -> int | None:
    """Return the 1-based line of the deepest part of ``location`` that exists in the document."""
    node: Any = document
    line: int | None = None
    for segment in location:
        if isinstance(node, CommentedMap) and segment in node:
            line = node.lc.key(segment)[0] + 1
            node = node[segment]
        elif isinstance(node, CommentedSeq) and isinstance(segment, int) and 0 <= segment < len(node):
            line = node.lc.item(segment)[0] + 1
            node = node[segment]
        else:
            break
    if line is None and isinstance(document, CommentedMap) and document.lc.line is not None:
        line = document.lc.line + 1
    return line
