"""EEM applet actions. Each labelled action has exactly one kind.

Argument names follow the IOS CLI (``action LABEL set VAR VALUE`` and so on); the renderers
decide per IOS XE release whether a kind travels in YANG or through config-ios-cli-rpc.
"""

from __future__ import annotations

import builtins
import ipaddress
import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.text import check_cli_text

VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# EEM substitutes $name and ${name} in action arguments, as Tcl does.
VARIABLE_REFERENCE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    # Fields that hold free text travelling inside one CLI line.
    TEXT_FIELDS: ClassVar[tuple[str, ...]] = ()
    # Fields that name a variable the action writes.
    DEFINES_FIELDS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _texts_fit_cli(self) -> Any:
        for name in self.TEXT_FIELDS:
            value = getattr(self, name)
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, str):
                    check_cli_text(item, what=name)
        for name in self.DEFINES_FIELDS:
            value = getattr(self, name)
            for item in value if isinstance(value, list) else [value]:
                if item is not None and not VARIABLE_NAME.match(item):
                    raise ValueError(f"{name} {item!r} is not a variable name; use letters, digits and '_'")
        return self

    def references(self) -> set[str]:
        """Variables this action reads through ``$name`` in its text arguments."""
        found: set[str] = set()
        for name in self.TEXT_FIELDS:
            value = getattr(self, name)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str):
                    found.update(VARIABLE_REFERENCE.findall(item))
        return found

    def defines(self) -> set[str]:
        """Variables this action writes."""
        found: set[str] = set()
        for name in self.DEFINES_FIELDS:
            value = getattr(self, name)
            for item in value if isinstance(value, list) else [value]:
                if item is not None:
                    found.add(item)
        return found


class MailAction(_Strict):
    """``mail server S to T from F [cc C] subject S body B [source-interface I | source-address A] port N [secure tls]``.

    No IOS XE release models this action in YANG, so it is always sent through config-ios-cli-rpc.
    """

    TEXT_FIELDS = ("server", "to", "sender", "cc", "subject", "body", "source_interface")

    server: str = Field(min_length=1, description='Usually "$_email_server".')
    to: str = Field(min_length=1)
    sender: str = Field(alias="from", min_length=1)
    cc: str | None = None
    subject: str
    body: str
    port: int = Field(default=587, ge=1, le=65535)
    secure: Literal["tls", "none"] = "tls"
    source_interface: str | None = None
    source_address: str | None = None
    allow_send_as: bool = Field(
        default=False, description="Allow `from` to differ from the authenticating account, for relays that permit it."
    )

    @field_validator("server")
    @classmethod
    def _no_inline_credentials(cls, value: str) -> str:
        if "@" in value and not value.startswith("$"):
            raise ValueError(
                "server carries credentials inline; put username:password@host in an environment "
                'variable (a mail server entry with password_env) and write its name, e.g. "$_email_server"'
            )
        return value

    @field_validator("source_address")
    @classmethod
    def _is_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"source_address {value!r} is not an IP address") from None
        return value

    @model_validator(mode="after")
    def _transport_is_safe(self) -> MailAction:
        if self.source_interface and self.source_address:
            raise ValueError("set source_interface or source_address, not both")
        if self.port == 587 and self.secure != "tls":
            raise ValueError(
                "port 587 without secure: tls would send the SMTP credentials in clear text; set secure: tls"
            )
        return self


class CliAction(_Strict):
    """``cli command "C"``; the output lands in ``$_cli_result``."""

    TEXT_FIELDS = ("command",)
    command: str = Field(min_length=1)


SyslogPriority = Literal[
    "emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational", "debugging"
]


class SyslogAction(_Strict):
    """``syslog [priority P] msg "M" [facility "F"]``."""

    TEXT_FIELDS = ("msg", "facility")
    msg: str = Field(min_length=1)
    priority: SyslogPriority | None = None
    facility: str | None = None


class SetAction(_Strict):
    """``set VAR "VALUE"``."""

    TEXT_FIELDS = ("value",)
    DEFINES_FIELDS = ("name",)
    name: str
    value: str


class IncrementAction(_Strict):
    """``increment VAR [N]`` (also used for decrement)."""

    DEFINES_FIELDS = ("name",)
    name: str
    by: int | None = None


class AppendAction(_Strict):
    """``append VAR "VALUE"``."""

    TEXT_FIELDS = ("value",)
    DEFINES_FIELDS = ("name",)
    name: str
    value: str


Operator = Literal["eq", "ne", "gt", "ge", "lt", "le"]


class Condition(_Strict):
    """``LEFT OP RIGHT`` for if, elseif and while."""

    TEXT_FIELDS = ("left", "right")
    left: str = Field(min_length=1)
    op: Operator
    right: str = Field(min_length=1)


class IfAction(Condition):
    """``if LEFT OP RIGHT [goto LABEL]``; without goto it opens a block closed by ``end``."""

    goto: str | None = None


class ForeachAction(_Strict):
    """``foreach VAR "ITERATOR" ["DELIMITER"]``: a loop closed by ``end``."""

    TEXT_FIELDS = ("iterator", "delimiter")
    DEFINES_FIELDS = ("name",)
    name: str
    iterator: str = Field(min_length=1)
    delimiter: str | None = None


class WaitAction(_Strict):
    """``wait SECONDS``."""

    seconds: int = Field(ge=1, le=31536000)


class PutsAction(_Strict):
    """``puts [nonewline] "TEXT"``: output for a manual run."""

    TEXT_FIELDS = ("text",)
    text: str
    nonewline: bool = False


class GetsAction(_Strict):
    """``gets VAR``: read a line from the terminal of a manual run."""

    DEFINES_FIELDS = ("name",)
    name: str


class RegexpAction(_Strict):
    """``regexp "PATTERN" "INPUT" [MATCH [SUB1 [SUB2 [SUB3]]]]``; ``$_regexp_result`` is 1 on a match."""

    TEXT_FIELDS = ("pattern", "input")
    DEFINES_FIELDS = ("match", "submatches")
    pattern: str = Field(min_length=1)
    input: str
    match: str | None = None
    submatches: list[str] = Field(default_factory=list, max_length=3)

    @model_validator(mode="after")
    def _submatches_need_match(self) -> RegexpAction:
        if self.submatches and self.match is None:
            raise ValueError("submatches need match: name the variable for the whole match first")
        return self


class StringTrimAction(_Strict):
    """``string trim "INPUT" ["CHARACTERS"]``; the result lands in ``$_string_result``."""

    TEXT_FIELDS = ("input", "characters")
    input: str
    characters: str | None = None


class ContextSaveAction(_Strict):
    """``context save key KEY variable PATTERN``: keep variables for a later applet run."""

    TEXT_FIELDS = ("key", "variable")
    key: str = Field(min_length=1)
    variable: str = "*"


class ContextRetrieveAction(_Strict):
    """``context retrieve key KEY [variable PATTERN]``."""

    TEXT_FIELDS = ("key", "variable")
    key: str = Field(min_length=1)
    variable: str | None = None


class SnmpTrapAction(_Strict):
    """``snmp-trap [intdata1 N] [intdata2 N] [strdata "S"]``."""

    TEXT_FIELDS = ("strdata",)
    intdata1: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    intdata2: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    strdata: str | None = None


class Flag(_Strict):
    """An action without arguments: else, end, break, continue, exit, reload."""


# Kinds that take no arguments; YAML may write them as `else:` with nothing after the colon.
FLAG_KINDS = ("else", "end", "break", "continue", "exit", "reload")

ACTION_KINDS = (
    "mail", "cli", "syslog", "set", "increment", "decrement", "append", "if", "elseif", "else", "end",
    "while", "break", "continue", "foreach", "wait", "puts", "gets", "regexp", "string_trim", "exit",
    "reload", "context_save", "context_retrieve", "snmp_trap",
)


class Action(_Strict):
    """One labelled applet action. Exactly one kind is set.

    EEM runs actions in the string order of their labels, so "0010" runs before "0020" and "10"
    runs before "9"; zero-padded labels keep both orders the same.
    """

    label: str = Field(min_length=1)
    mail: MailAction | None = None
    cli: CliAction | None = None
    syslog: SyslogAction | None = None
    set: SetAction | None = None
    increment: IncrementAction | None = None
    decrement: IncrementAction | None = None
    append: AppendAction | None = None
    if_: IfAction | None = Field(default=None, alias="if")
    elseif: Condition | None = None
    else_: Flag | None = Field(default=None, alias="else")
    end: Flag | None = None
    while_: Condition | None = Field(default=None, alias="while")
    break_: Flag | None = Field(default=None, alias="break")
    continue_: Flag | None = Field(default=None, alias="continue")
    foreach: ForeachAction | None = None
    wait: WaitAction | None = None
    puts: PutsAction | None = None
    gets: GetsAction | None = None
    regexp: RegexpAction | None = None
    string_trim: StringTrimAction | None = None
    exit: Flag | None = None
    reload: Flag | None = None
    context_save: ContextSaveAction | None = None
    context_retrieve: ContextRetrieveAction | None = None
    snmp_trap: SnmpTrapAction | None = None

    @model_validator(mode="before")
    @classmethod
    def _flags_may_be_empty(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: ({} if key in FLAG_KINDS and value is None else value) for key, value in data.items()}
        return data

    @field_validator("label", mode="before")
    @classmethod
    def _label_is_text(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(
                f"label {value} was read as a number, which drops leading zeros; quote it, e.g. \"{int(value):04d}\""
            )
        return value

    @field_validator("label")
    @classmethod
    def _label_is_one_word(cls, value: str, info: ValidationInfo) -> str:
        # Labels are one CLI word; this tool also keeps them to characters that sort predictably.
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", value):
            raise ValueError(f"label {value!r} must be 1 to 32 letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        kinds = [kind for kind in ACTION_KINDS if self.part(kind) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none of them"
            raise ValueError(f"action {self.label} needs exactly one kind (mail, cli, syslog, set, if, ...); found {found}")
        return self

    def part(self, kind: str) -> _Strict | None:
        """Return the arguments of ``kind`` (``if``, ``string_trim``, ...) or None when unset."""
        attribute = f"{kind}_" if kind in ("if", "else", "while", "break", "continue") else kind
        value = getattr(self, attribute)
        return value if isinstance(value, _Strict) else None

    @property
    def kind(self) -> str:
        """The kind that is set, as written in the intent, e.g. ``mail`` or ``string_trim``."""
        return next(kind for kind in ACTION_KINDS if self.part(kind) is not None)

    @property
    def arguments(self) -> _Strict:
        """The arguments of the kind that is set."""
        part = self.part(self.kind)
        assert part is not None
        return part

    def references(self) -> builtins.set[str]:
        """Variables the action reads."""
        return self.arguments.references()

    def defines(self) -> builtins.set[str]:
        """Variables the action writes."""
        return self.arguments.defines()
