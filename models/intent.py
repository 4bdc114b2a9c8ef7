"""The device intent and loading it from YAML with errors that name the file, line and field."""

from __future__ import annotations

import difflib
import os
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import Encoding
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from models import yamlguard
from models.applet import NAME, Applet
from models.certificate import load_one_ca_certificate
from models.checks import Finding, check_intent
from models.eem import EnvironmentValue, MailServer, check_variable_name
from models.errors import InputError, IntentError, Problem
from models.ownership import Ownership
from models.pki import Trustpoint
from models.text import check_cli_text


class Intent(BaseModel):
    """Everything one device should have: EEM environment variables, applets and trustpoints.

    The intent owns the objects it names, plus those under ``ownership.managed_prefix``;
    anything else on the device is left alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    environment: dict[str, EnvironmentValue] = Field(default_factory=dict)
    provided_variables: list[str] = Field(
        default_factory=list, description="Variables the device already has from elsewhere, which applets may use."
    )
    applets: list[Applet] = Field(default_factory=list)
    trustpoints: list[Trustpoint] = Field(default_factory=list)
    existing_trustpoints: list[str] = Field(
        default_factory=list, description="Trustpoints already on the device that the SMTP server's chain anchors to."
    )
    ownership: Ownership = Field(
        default_factory=Ownership,
        description="Objects claimed by name prefix beyond those named here, and whether to prune them.",
    )

    _warnings: list[Problem] = PrivateAttr(default_factory=list)

    @field_validator("environment")
    @classmethod
    def _names_valid(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, text in value.items():
            check_variable_name(name)
            if isinstance(text, str):
                # The value is printed in `event manager environment NAME VALUE` and may end up in
                # mail headers, neither of which carries a character encoding.
                check_cli_text(text, what=f"the value of {name}")
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

    @field_validator("existing_trustpoints")
    @classmethod
    def _trustpoint_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not NAME.match(name):
                raise ValueError(f"trustpoint name {name!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Intent:
        findings = check_intent(self)
        errors = [finding for finding in findings if finding.severity == "error"]
        self._warnings.extend(
            Problem("<intent>", None, _dotted(list(finding.location)), finding.message, "warning")
            for finding in findings
            if finding.severity == "warning"
        )
        context = info.context if isinstance(info.context, dict) else None
        if context is not None and "findings" in context:
            # The file loader maps each finding to its line itself.
            context["findings"].extend(errors)
            return self
        if errors:
            raise ValueError("; ".join(f"{_dotted(list(error.location))}: {error.message}" for error in errors))
        return self

    @property
    def warnings(self) -> list[Problem]:
        """Problems that do not stop a command, such as a TLS mail action with no trustpoint."""
        return list(self._warnings)

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
    unresolved: list[str] | None = None,
    read_certificates: bool = True,
) -> Intent:
    """Read and validate an intent file.

    Args:
        path: the YAML file.
        environ: where ``password_env`` variables are looked up; defaults to ``os.environ``.
        resolve_secrets: when false, passwords are not looked up (for offline rendering, which
            masks them anyway) and a missing variable is not an error.
        unresolved: when given, a ``password_env`` variable that is not set is appended here
            instead of being an error, and that password is left unchecked.
        read_certificates: read and check each trustpoint's certificate file. Tools that
            analyse those files themselves (``certs fetch --intent``) turn this off.

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
        text,
        source=source,
        environ=environ,
        resolve_secrets=resolve_secrets,
        base_dir=Path(path).parent,
        unresolved=unresolved,
        read_certificates=read_certificates,
    )


def parse_intent(
    text: str,
    *,
    source: str = "<string>",
    environ: Mapping[str, str] | None = None,
    resolve_secrets: bool = True,
    base_dir: Path | None = None,
    unresolved: list[str] | None = None,
    read_certificates: bool = True,
) -> Intent:
    """Validate intent YAML given as text; see :func:`load_intent`."""
    too_large = yamlguard.size_problem(text)
    if too_large is not None:
        raise IntentError([Problem(source, None, "", too_large)])
    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        # ruamel.yaml quotes both values of a duplicate key; they may be secrets, so drop them.
        detail = getattr(error, "problem", None) or str(error).split("\n", 1)[0]
        problem = re.sub(r' with value ".*', "", str(detail))
        raise IntentError([Problem(source, line, "", f"invalid YAML: {problem}")]) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise IntentError([Problem(source, 1, "", "the intent must be a mapping with environment, applets, trustpoints")])
    aliased, line = yamlguard.first_alias(document)
    if aliased:
        raise IntentError([Problem(source, line, "", yamlguard.ALIAS_MESSAGE)])

    lookup: Mapping[str, str] | None = None
    if resolve_secrets:
        lookup = os.environ if environ is None else environ
    findings: list[Finding] = []
    context: dict[str, Any] = {"from_file": True, "environ": lookup, "findings": findings}
    if unresolved is not None:
        context["unresolved"] = unresolved
    try:
        intent = Intent.model_validate(_plain(document), context=context)
    except ValidationError as error:
        raise IntentError(_problems(error, document, source)) from None
    if findings:
        raise IntentError([_located(finding, document, source) for finding in findings])
    intent._warnings[:] = [
        Problem(source, _line_of(document, _location(problem.field)), problem.field, problem.message, "warning")
        for problem in intent.warnings
    ]

    if base_dir is not None:
        intent = _resolve_paths(intent, base_dir)
    return _load_certificates(intent, document, source) if read_certificates else intent


def _resolve_paths(intent: Intent, base_dir: Path) -> Intent:
    # Certificate paths in an intent are relative to the intent file, not to the working directory.
    trustpoints = [
        trustpoint.model_copy(update={"certificate": base_dir / trustpoint.certificate})
        if trustpoint.certificate is not None and not trustpoint.certificate.is_absolute()
        else trustpoint
        for trustpoint in intent.trustpoints
    ]
    return intent.model_copy(update={"trustpoints": trustpoints})


def _load_certificates(intent: Intent, document: CommentedMap, source: str) -> Intent:
    """Read each trustpoint's certificate file; a bad file is an error at its line."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    trustpoints = []
    for index, trustpoint in enumerate(intent.trustpoints):
        if trustpoint.certificate is None:
            trustpoints.append(trustpoint)
            continue
        location: list[int | str] = ["trustpoints", index, "certificate"]
        line = _line_of(document, location)
        try:
            loaded = load_one_ca_certificate(trustpoint.certificate, allow_non_ca=trustpoint.allow_leaf)
        except InputError as error:
            problems.append(Problem(source, line, _dotted(location), str(error)))
            continue
        warnings.extend(Problem(source, line, _dotted(location), text, "warning") for text in loaded.warnings)
        trustpoints.append(trustpoint.model_copy(update={"ca_der": loaded.certificate.public_bytes(Encoding.DER)}))
    if problems:
        raise IntentError(problems)
    if not any(trustpoint.certificate is not None for trustpoint in intent.trustpoints):
        return intent
    loaded_intent = intent.model_copy(update={"trustpoints": trustpoints})
    loaded_intent._warnings[:] = [*intent.warnings, *warnings]
    return loaded_intent


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
            message = _unknown_key_message(location)
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



def _located(finding: Finding, document: CommentedMap, source: str) -> Problem:
    location = list(finding.location)
    return Problem(source, _line_of(document, location), _dotted(location), finding.message, finding.severity)


def _location(dotted: str) -> list[int | str]:
    """Turn ``applets[0].actions[1].mail`` back into a location list."""
    location: list[int | str] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        location.append(int(part[1:-1]) if part.startswith("[") else part)
    return location


def _unknown_key_message(location: list[int | str]) -> str:
    key = str(location[-1]) if location else ""
    allowed = _allowed_keys(location[:-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(sorted(allowed))}" if allowed else ""
    return f"unknown key {key!r}; {hint}" if hint else f"unknown key {key!r}; remove it"


def _allowed_keys(location: list[int | str]) -> list[str]:
    """Return the keys a mapping at ``location`` may have, by walking the model classes."""
    model: Any = Intent
    mapping_key_next = False
    for segment in location:
        if isinstance(segment, int) or model is None or mapping_key_next:
            mapping_key_next = False
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        info = fields.get(str(segment))
        model = _model_in(info.annotation) if info is not None else None
        # In `environment: {NAME: ...}` the next segment is a variable name, not a field.
        mapping_key_next = info is not None and typing.get_origin(info.annotation) is dict
    if model is None or not hasattr(model, "model_fields"):
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None
