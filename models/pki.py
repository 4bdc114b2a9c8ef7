"""PKI intent: trustpoints that hold the CA certificates the SMTP server's chain anchors to."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema


class Trustpoint(BaseModel):
    """``crypto pki trustpoint NAME`` for a CA certificate pasted at the terminal.

    The tech-note settings are the defaults: ``enrollment terminal``, ``revocation-check none``
    and ``chain-validation stop``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1)
    enrollment: Literal["terminal"] = "terminal"
    revocation_check: list[Literal["none", "crl", "ocsp"]] = Field(default_factory=lambda: ["none"])
    chain_validation: Literal["stop"] | None = "stop"
    certificate: Path | None = Field(
        default=None, description="PEM or DER file with the CA certificate for this trustpoint."
    )
    allow_leaf: bool = Field(
        default=False,
        description="Accept a certificate that is not a CA; it breaks at the server's next certificate rotation.",
    )
    # The certificate in DER, filled in by the intent loader from `certificate`.
    ca_der: SkipJsonSchema[bytes | None] = Field(default=None, exclude=True, repr=False)

    @field_validator("name")
    @classmethod
    def _name_is_one_word(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError(f"trustpoint name {value!r} must be one word of letters, digits, '.', '_' or '-'")
        return value

    @field_validator("revocation_check")
    @classmethod
    def _none_alone(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("revocation_check needs at least one method, e.g. [none]")
        if len(set(value)) != len(value):
            raise ValueError("revocation_check lists a method twice")
        if "none" in value and len(value) > 1:
            raise ValueError("revocation_check none cannot be combined with crl or ocsp")
        return value
