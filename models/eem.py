"""EEM intent: environment variables, the SMTP server string, applets with their events and actions."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from models.text import check_cli_text

# EEM environment variables are Tcl variables; IOS XE accepts other characters, but `$name`
# substitution in applet actions stops at the first character outside this set.
_VARIABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)

MASK = "********"

# The engine keeps a digest of the lines it sent through config-ios-cli-rpc in this environment
# variable, because get-config cannot show those lines; an intent must not define it.
CLI_DIGEST_VARIABLE = "_provisioner_cli_digest"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MailServer(_Strict):
    """The value of an EEM mail server variable, ``username:password@host`` on the device.

    From an intent file the password never comes from the file itself: ``password_env`` names the
    environment variable that holds it. Library callers may pass ``password`` directly.
    """

    username: str = Field(min_length=1)
    host: str = Field(min_length=1)
    password_env: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _resolve_password(cls, data: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        if not isinstance(data, dict) or not context.get("from_file"):
            return data
        if "password" in data:
            raise ValueError(
                "a password must not be written in the intent file; store it in an environment "
                "variable and name that variable with password_env"
            )
        variable = data.get("password_env")
        if not isinstance(variable, str) or not variable:
            raise ValueError("password_env is missing; name the environment variable that holds the SMTP password")
        environ = context.get("environ")
        if environ is None:
            return data
        if variable not in environ or environ[variable] == "":
            raise ValueError(
                f"environment variable {variable} is not set; export it with the SMTP password "
                f"(for Gmail, the app password) before running this command"
            )
        return {**data, "password": SecretStr(environ[variable])}

    @field_validator("username", "host")
    @classmethod
    def _no_whitespace(cls, value: str, info: ValidationInfo) -> str:
        if any(character.isspace() for character in value):
            raise ValueError(f"{info.field_name} contains whitespace, which ends the server string on the device")
        return value

    @field_validator("username")
    @classmethod
    def _username_fits_server_string(cls, value: str) -> str:
        # IOS XE splits `user:password@host` at the first '@' (Cisco enhancement CSCwe75439, no fix planned).
        if "@" in value:
            raise ValueError(
                "username contains '@', but IOS XE splits the server string at the first '@', so the "
                "host part would be wrong; use an account name without '@' (for example the local "
                "part, for providers that accept it)"
            )
        if ":" in value:
            raise ValueError("username contains ':', which IOS XE reads as the start of the password")
        return value

    @field_validator("host")
    @classmethod
    def _host_is_name_or_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if not _HOSTNAME.match(value):
            raise ValueError(f"host {value!r} is neither a hostname nor an IP address")
        return value

    @field_validator("password")
    @classmethod
    def _password_fits_server_string(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return value
        secret = value.get_secret_value()
        if any(character.isspace() for character in secret):
            raise ValueError(
                "the password contains whitespace; app passwords are shown in groups separated by "
                "spaces, so remove the spaces"
            )
        if "@" in secret:
            raise ValueError(
                "the password contains '@', but IOS XE splits the server string at the first '@'; "
                "choose a password without '@'"
            )
        return value

    def server_string(self, *, reveal: bool = False) -> str:
        """Return ``username:password@host``; the password is masked unless ``reveal`` is true.

        Raises:
            ValueError: ``reveal`` is true but no password was resolved.
        """
        if not reveal:
            return f"{self.username}:{MASK}@{self.host}"
        if self.password is None:
            raise ValueError(f"the password for {self.username}@{self.host} was not resolved")
        return f"{self.username}:{self.password.get_secret_value()}@{self.host}"


def _environment_kind(value: Any) -> str:
    return "server" if isinstance(value, (dict, MailServer)) else "text"


EnvironmentValue = Annotated[
    Annotated[str, Tag("text")] | Annotated[MailServer, Tag("server")],
    Discriminator(_environment_kind),
]


def check_variable_name(name: str) -> str:
    """Return ``name`` if it is a valid EEM environment variable name, else raise ValueError."""
    if not _VARIABLE_NAME.match(name):
        raise ValueError(
            f"environment variable name {name!r} is invalid; use letters, digits and '_' and start "
            "with a letter or '_' (EEM substitutes $name only up to the first other character)"
        )
    if name == CLI_DIGEST_VARIABLE:
        raise ValueError(f"environment variable name {name!r} is reserved for this tool's own bookkeeping")
    return name


# ---------------------------------------------------------------------------------------------
# Events


class NoneEvent(_Strict):
    """``event none``: the applet runs only when started by hand (``event manager run NAME``)."""

    maxrun: int | None = Field(default=None, ge=1, description="Maximum run time in seconds.")
    ratelimit: int | None = Field(default=None, ge=1, description="Seconds to suppress repeated runs.")


class SyslogEvent(_Strict):
    """``event syslog pattern P``: run when a syslog message matches a regular expression."""

    pattern: str = Field(min_length=1)
    occurs: int | None = Field(default=None, ge=1, le=32)
    period: int | None = Field(default=None, ge=1, description="Seconds in which `occurs` matches must happen.")
    maxrun: int | None = Field(default=None, ge=1)
    ratelimit: int | None = Field(default=None, ge=1)

    @field_validator("pattern")
    @classmethod
    def _pattern_fits_cli(cls, value: str) -> str:
        return check_cli_text(value, what="pattern")


class TrackEvent(_Strict):
    """``event track N state up|down|any``: run when a tracked object changes state."""

    object: int = Field(ge=1, le=1000, description="Track object number (1..1000 in IOS XE 17.12).")
    state: Literal["up", "down", "any"] = "any"
    maxrun: int | None = Field(default=None, ge=1)
    ratelimit: int | None = Field(default=None, ge=1)


class Event(_Strict):
    """The applet's trigger. Exactly one kind is set."""

    none: NoneEvent | None = None
    syslog: SyslogEvent | None = None
    track: TrackEvent | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Event:
        kinds = [name for name in ("none", "syslog", "track") if getattr(self, name) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none of them"
            raise ValueError(f"an event needs exactly one of none, syslog, track; found {found}")
        return self

    @property
    def kind(self) -> str:
        """The name of the kind that is set: ``none``, ``syslog`` or ``track``."""
        return next(name for name in ("none", "syslog", "track") if getattr(self, name) is not None)


# ---------------------------------------------------------------------------------------------
# Actions


class MailAction(_Strict):
    """``mail server ... to ... from ... subject ... body ... port N secure tls``.

    No IOS XE release models this action in YANG, so it is sent through config-ios-cli-rpc.
    """

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

    @field_validator("server", "to", "sender", "cc", "subject", "body", "source_interface")
    @classmethod
    def _fits_cli(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        return check_cli_text(value, what="from" if info.field_name == "sender" else str(info.field_name))

    @field_validator("server")
    @classmethod
    def _no_inline_credentials(cls, value: str) -> str:
        if "@" in value and not value.startswith("$"):
            raise ValueError(
                "server carries credentials inline; put username:password@host in an environment "
                "variable (a mail server entry with password_env) and write its name, e.g. \"$_email_server\""
            )
        return value

    @field_validator("source_address")
    @classmethod
    def _is_address(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)
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
    """``cli command "..."``."""

    command: str = Field(min_length=1)

    @field_validator("command")
    @classmethod
    def _fits_cli(cls, value: str) -> str:
        return check_cli_text(value, what="command")


SyslogPriority = Literal[
    "emergencies", "alerts", "critical", "errors", "warnings", "notifications", "informational", "debugging"
]


class SyslogAction(_Strict):
    """``syslog [priority P] [facility F] msg "..."``."""

    msg: str = Field(min_length=1)
    priority: SyslogPriority | None = None
    facility: str | None = None

    @field_validator("msg", "facility")
    @classmethod
    def _fits_cli(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_cli_text(value, what=str(info.field_name))


ACTION_KINDS = ("mail", "cli", "syslog")


class Action(_Strict):
    """One labelled applet action. Exactly one kind is set.

    EEM runs actions in the string order of their labels, so "0010" runs before "0020" and "10"
    runs before "9"; zero-padded labels keep both orders the same.
    """

    label: str = Field(min_length=1)
    mail: MailAction | None = None
    cli: CliAction | None = None
    syslog: SyslogAction | None = None

    @field_validator("label", mode="before")
    @classmethod
    def _label_is_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            raise ValueError(
                f"label {value} was read as a number, which drops leading zeros; quote it, e.g. \"{value:04d}\""
            )
        return value

    @field_validator("label")
    @classmethod
    def _label_is_one_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError(f"label {value!r} must be one word of letters, digits, '.', '_' or '-'")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> Action:
        kinds = [name for name in ACTION_KINDS if getattr(self, name) is not None]
        if len(kinds) != 1:
            found = ", ".join(kinds) if kinds else "none of them"
            raise ValueError(f"action {self.label} needs exactly one of {', '.join(ACTION_KINDS)}; found {found}")
        return self

    @property
    def kind(self) -> str:
        """The name of the kind that is set, e.g. ``mail``."""
        return next(name for name in ACTION_KINDS if getattr(self, name) is not None)

    @property
    def modelled(self) -> bool:
        """Whether IOS XE's YANG models this action (the mail action is in no release's model)."""
        return self.kind != "mail"


class Applet(_Strict):
    """``event manager applet NAME`` with its event and its actions."""

    name: str = Field(min_length=1)
    description: str | None = None
    event: Event
    actions: list[Action] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_one_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError(f"applet name {value!r} must be one word of letters, digits, '.', '_' or '-'")
        return value

    @field_validator("description")
    @classmethod
    def _fits_cli(cls, value: str | None) -> str | None:
        return None if value is None else check_cli_text(value, what="description")

    @model_validator(mode="after")
    def _labels_unique_and_ordered(self) -> Applet:
        labels = [action.label for action in self.actions]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"applet {self.name} has duplicate action labels: {', '.join(duplicates)}")
        if labels != sorted(labels):
            raise ValueError(
                f"applet {self.name}: EEM runs actions in the string order of their labels "
                f"({', '.join(sorted(labels))}), which differs from the order in the file "
                f"({', '.join(labels)}); use zero-padded labels such as 0010, 0020"
            )
        return self
