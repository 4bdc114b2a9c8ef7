"""Ownership settings: the device objects an intent claims beyond those it names, and pruning.

An intent always owns the environment variables, applets and trustpoints it names. With
``managed_prefix`` it also claims every object whose name starts with that prefix: with
``prune: true`` such objects that the intent does not name are removed from the device, and
without it they are only reported. Objects outside both sets are never read into a plan and
never changed.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.eem import CLI_DIGEST_VARIABLE

OwnedKind = Literal["environment", "applet", "trustpoint"]

# Trustpoints that IOS XE creates itself: the self-signed one for HTTPS/SSH, Cisco's licensing
# anchor and the manufacturing identity certificates. Removing them breaks the device's own
# services, so no prefix may claim them.
BUILT_IN_TRUSTPOINT_PREFIXES = ("TP-self-signed-", "SLA-TrustPoint", "CISCO_IDEVID_", "CISCO_IOS_")

_ENVIRONMENT_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OBJECT_PREFIX = re.compile(r"^[A-Za-z0-9._-]{1,63}$")


class ManagedPrefixes(BaseModel):
    """A managed name prefix per object kind; a kind without one has no managed names."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    environment: str | None = None
    applets: str | None = None
    trustpoints: str | None = None


class Ownership(BaseModel):
    """The ``ownership`` section of an intent.

    ``managed_prefix`` is either one prefix for every kind (``NOC-``) or a mapping with
    ``environment``, ``applets`` and ``trustpoints``. Environment variable names can hold only
    letters, digits and '_', so a prefix with other characters never matches a variable.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    managed_prefix: str | ManagedPrefixes | None = Field(
        default=None,
        description="Name prefix of the objects this intent manages on the device, e.g. NOC-.",
    )
    prune: bool = Field(
        default=False,
        description="Remove objects under managed_prefix that the intent does not name.",
    )

    @field_validator("managed_prefix")
    @classmethod
    def _prefixes_valid(cls, value: str | ManagedPrefixes | None) -> str | ManagedPrefixes | None:
        if value is None:
            return value
        prefixes = value.model_dump() if isinstance(value, ManagedPrefixes) else {"all": value}
        for kind, prefix in prefixes.items():
            if prefix is None:
                continue
            if not _OBJECT_PREFIX.match(prefix):
                raise ValueError(
                    f"managed prefix {prefix!r} is invalid; use 1 to 63 letters, digits, '.', '_' or '-'"
                )
            if kind == "environment" and not _ENVIRONMENT_PREFIX.match(prefix):
                raise ValueError(
                    f"environment prefix {prefix!r} can match no variable name; use letters, digits and '_'"
                )
            if kind in ("all", "trustpoints"):
                _check_not_built_in(prefix)
        return value

    @model_validator(mode="after")
    def _prune_needs_prefix(self) -> Ownership:
        if self.prune and self.managed_prefix is None:
            raise ValueError(
                "prune: true needs managed_prefix; without a prefix no object outside the intent is "
                "owned, so nothing could be pruned"
            )
        return self

    def prefix_for(self, kind: OwnedKind) -> str | None:
        """Return the managed prefix for one object kind, or None."""
        if self.managed_prefix is None or isinstance(self.managed_prefix, str):
            return self.managed_prefix
        field_name = {"environment": "environment", "applet": "applets", "trustpoint": "trustpoints"}[kind]
        prefix: str | None = getattr(self.managed_prefix, field_name)
        return prefix

    def manages(self, kind: OwnedKind, name: str) -> bool:
        """Return True when ``name`` falls under the managed prefix of its kind.

        The engine's own digest variable and the device's built-in trustpoints never do.
        """
        prefix = self.prefix_for(kind)
        if prefix is None or not name.startswith(prefix):
            return False
        if kind == "environment" and name == CLI_DIGEST_VARIABLE:
            return False
        if kind == "trustpoint" and name.startswith(BUILT_IN_TRUSTPOINT_PREFIXES):
            return False
        return True


def _check_not_built_in(prefix: str) -> None:
    for built_in in BUILT_IN_TRUSTPOINT_PREFIXES:
        if built_in.startswith(prefix) or prefix.startswith(built_in):
            raise ValueError(
                f"managed prefix {prefix!r} would claim the device's built-in trustpoints ({built_in}*); "
                "choose a prefix of your own, or give per-kind prefixes under managed_prefix"
            )
