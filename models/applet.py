"""EEM applets: ``event manager applet NAME`` with its event and its labelled actions."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from models.actions import Action
from models.events import Event
from models.text import check_cli_text

# Applet, trustpoint and label names are single CLI words. Cisco-IOS-XE-eem and -crypto type
# them as plain strings; this tool keeps to characters that need no quoting and caps the
# length at 64, a limit of this tool rather than a documented device limit.
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Kinds that open a block which `end` closes, and where else/elseif/break/continue may appear.
_OPENERS = {"if", "while", "foreach"}
_LOOPS = {"while", "foreach"}


class Applet(BaseModel):
    """``event manager applet NAME`` with its event and actions."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)

    name: str
    description: str | None = None
    authorization: Literal["bypass"] | None = None
    class_: str | None = Field(default=None, alias="class", description="A single capital letter or 'default'.")
    trap: bool = Field(default=False, description="Send an SNMP trap when the applet runs.")
    event: Event | None = Field(default=None, description="Required in an intent; absent in a read-back when the release's YANG cannot show it.")
    actions: list[Action] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name_is_one_word(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"applet name {value!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
        return value

    @field_validator("description")
    @classmethod
    def _fits_cli(cls, value: str | None) -> str | None:
        return None if value is None else check_cli_text(value, what="description")

    @field_validator("class_")
    @classmethod
    def _class_pattern(cls, value: str | None) -> str | None:
        # Cisco-IOS-XE-eem: pattern '[A-Z]|default'.
        if value is not None and not re.fullmatch(r"[A-Z]|default", value):
            raise ValueError(f"class {value!r} must be one capital letter A-Z or 'default'")
        return value

    @model_validator(mode="after")
    def _event_present(self, info: ValidationInfo) -> Applet:
        if self.event is None and not _from_device(info):
            raise ValueError(f"applet {self.name} needs an event, e.g. event: {{none: {{}}}}")
        return self

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

    @model_validator(mode="after")
    def _blocks_balanced(self, info: ValidationInfo) -> Applet:
        if _from_device(info):
            return self  # get-config may hide the block actions that went through the CLI.
        stack: list[tuple[str, str]] = []
        for action in self.actions:
            kind = action.kind
            if kind == "if" and action.if_ is not None and action.if_.goto is not None:
                if action.if_.goto not in {other.label for other in self.actions}:
                    raise ValueError(f"action {action.label}: goto {action.if_.goto} names no action label of applet {self.name}")
                continue
            if kind in _OPENERS:
                stack.append((kind, action.label))
            elif kind in ("else", "elseif"):
                if not stack or stack[-1][0] != "if":
                    raise ValueError(f"action {action.label}: {kind} outside an if block")
            elif kind in ("break", "continue"):
                if not any(opener in _LOOPS for opener, _ in stack):
                    raise ValueError(f"action {action.label}: {kind} outside a while or foreach loop")
            elif kind == "end":
                if not stack:
                    raise ValueError(f"action {action.label}: end without an open if, while or foreach")
                stack.pop()
        if stack:
            opener, label = stack[-1]
            raise ValueError(f"action {label}: {opener} is never closed; add an end action after its block")
        return self

    @property
    def mail_actions(self) -> list[Action]:
        """The applet's mail actions."""
        return [action for action in self.actions if action.kind == "mail"]


def _from_device(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("from_device"))
