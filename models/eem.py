"""EEM environment variables and the SMTP server string that the mail action uses."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

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
from pydantic.json_schema import SkipJsonSchema

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
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)


class MailServer(_Strict):
    """The value of an EEM mail server variable, ``username:password@host`` on the device.

    From an intent file the password never comes from the file itself: ``password_env`` names the
    environment variable that holds it. Library callers may pass ``password`` directly.
    """

    username: str = Field(min_length=1)
    host: str = Field(min_length=1)
    password_env: str | None = None
    # Library callers may pass the password; intent files may not, so editors are not offered it.
    password: SkipJsonSchema[SecretStr | None] = None

    @model_validator(mode="before")
    @classmethod
    def _resolve_password(cls, data: Any, info: ValidationInfo) -> Any:
        context = info.context or {}
        if not isinstance(data, dict) or not context.get("from_file"):
            return data
        unknown = set(data) - {"username", "host", "password_env", "password"}
        if unknown:
            return data  # Let pydantic name the unknown key (often a misspelt password_env).
        if "password" in data:
            raise ValueError(
                "a password must not be written in the intent file; store it in an environment "
                "variable and name that variable with password_env"
            )
        variable = data.get("password_env")
        if not isinstance(variable, str) or not variable:
            raise ValueError("password_env is missing; name the environment variable that holds the SMTP password")
        if not _VARIABLE_NAME.match(variable):
            raise ValueError(
                f"password_env {variable!r} is not an environment variable name; use letters, digits and '_'"
            )
        environ = context.get("environ")
        if environ is None:
            return data
        if not environ.get(variable):
            unresolved = context.get("unresolved")
            if isinstance(unresolved, list):
                unresolved.append(variable)
                return data
            raise ValueError(
                f"environment variable {variable} is not set or empty; export it with the SMTP password "
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
        # The value is stored as one word of IOS configuration text; the messages never show it.
        if any(not character.isascii() or not character.isprintable() for character in secret):
            raise ValueError(
                "the password contains a non-ASCII or control character, which IOS XE configuration "
                "text cannot hold; choose a password of printable ASCII characters"
            )
        if '"' in secret:
            raise ValueError(
                "the password contains '\"', which IOS XE configuration text reads as a string "
                "delimiter; choose a password without '\"'"
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
