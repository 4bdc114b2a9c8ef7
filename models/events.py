"""EEM applet events: what triggers an applet. An event has exactly one kind.

Field ranges follow Cisco-IOS-XE-eem as published for IOS XE 17.9 to 17.18.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.text import check_cli_text

# NOTE: timers are whole seconds. IOS XE 17.13 and later also take milliseconds (decimal64
# leaves such as maxrun-set); this model does not offer them yet.
Seconds = int


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True)


class _Timing(_Strict):
    maxrun: Seconds | None = Field(default=None, ge=1, description="Maximum run time of the applet, in seconds.")
    ratelimit: Seconds | None = Field(default=None, ge=1, description="Seconds during which a new trigger is ignored.")


class NoneEvent(_Timing):
    """``event none``: the applet runs only when started by hand (``event manager run NAME``)."""


class SyslogEvent(_Timing):
    """``event syslog pattern P``: run when a syslog message matches a regular expression."""

    pattern: str = Field(min_length=1)
    occurs: int | None = Field(default=None, ge=1, le=32, description="Matches needed before the applet runs.")
    period: Seconds | None = Field(default=None, ge=1, description="Window in seconds for `occurs` matches.")

    @field_validator("pattern")
    @classmethod
    def _pattern_fits_cli(cls, value: str) -> str:
        return check_cli_text(value, what="pattern")


class TrackEvent(_Timing):
    """``event track N state up|down|any``: run when a tracked object changes state."""

    object: int = Field(ge=1, le=1000, description="Track object number (1..1000 up to IOS XE 17.15).")
    state: Literal["up", "down", "any"] = "any"


class _Timer(_Timing):
    name: str | None = Field(default=None, description="Name of the timer, for `show event manager`.")

    @field_validator("name")
    @classmethod
    def _name_fits_cli(cls, value: str | None) -> str | None:
        return None if value is None else check_cli_text(value, what="timer name")


class CronTimer(_Timer):
    """``event timer cron cron-entry "M H DoM Mon DoW"``."""

    entry: str = Field(description='Five cron fields, e.g. "0 7 * * 1-5".')

    @field_validator("entry")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        check_cli_text(value, what="cron entry")
        if len(value.split()) != 5:
            raise ValueError(f"cron entry {value!r} needs five fields: minute hour day-of-month month day-of-week")
        return value


class IntervalTimer(_Timer):
    """``event timer watchdog|countdown|absolute time N``."""

    time: Seconds = Field(ge=1, description="Seconds: period for watchdog, delay for countdown, epoch time for absolute.")


class TimerEvent(_Strict):
    """``event timer ...``. Exactly one timer kind is set."""

    cron: CronTimer | None = None
    watchdog: IntervalTimer | None = None
    countdown: IntervalTimer | None = None
    absolute: IntervalTimer | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TimerEvent:
        _require_one(self, ("cron", "watchdog", "countdown", "absolute"), "a timer event")
        return self

    @property
    def kind(self) -> str:
        """The timer kind that is set."""
        return _kind_of(self, ("cron", "watchdog", "countdown", "absolute"))


ReactionType = Literal[
    "connectionLoss", "icpif", "jitterAvg", "jitterDSAvg", "jitterSDAvg", "maxOfNegativeDS", "maxOfNegativeSD",
    "maxOfPositiveDS", "maxOfPositiveSD", "mos", "packetLateArrival", "packetLossDS", "packetLossSD", "packetMIA",
    "packetOutOfSequence", "rtt", "timeout", "verifyError",
]


class IpslaEvent(_Timing):
    """``event ipsla group-name G reaction-type T``: run on an IP SLA reaction."""

    group: str = Field(min_length=1)
    reaction: ReactionType

    @field_validator("group")
    @classmethod
    def _group_fits_cli(cls, value: str) -> str:
        return check_cli_text(value, what="group")


class RoutingEvent(_Timing):
    """``event routing network PREFIX type add|all|modify|remove``."""

    network: str
    type: Literal["add", "all", "modify", "remove"] = "all"

    @field_validator("network")
    @classmethod
    def _is_prefix(cls, value: str) -> str:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"network {value!r} is not an IPv4 or IPv6 prefix such as 192.0.2.0/24") from None
        if "/" not in value:
            raise ValueError(f"network {value!r} needs a prefix length, e.g. {value}/32")
        return value


class CliEvent(_Strict):
    """``event cli pattern P [sync yes|no] [skip yes|no]``: run when a matching command is typed."""

    pattern: str = Field(min_length=1)
    sync: Literal["yes", "no"] = "no"
    skip: Literal["yes", "no"] | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_fits_cli(cls, value: str) -> str:
        return check_cli_text(value, what="pattern")

    @model_validator(mode="after")
    def _skip_needs_async(self) -> CliEvent:
        # Cisco-IOS-XE-eem (17.15+) only allows skip when sync is no.
        if self.skip is not None and self.sync != "no":
            raise ValueError("skip is only allowed with sync: no")
        return self


EVENT_KINDS = ("none", "syslog", "track", "timer", "ipsla", "routing", "cli")


class Event(_Strict):
    """The applet's trigger. Exactly one kind is set."""

    none: NoneEvent | None = None
    syslog: SyslogEvent | None = None
    track: TrackEvent | None = None
    timer: TimerEvent | None = None
    ipsla: IpslaEvent | None = None
    routing: RoutingEvent | None = None
    cli: CliEvent | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_none(cls, data: Any) -> Any:
        # `none:` with nothing after it is the natural way to write `event none` in YAML.
        if isinstance(data, dict) and "none" in data and data["none"] is None:
            return {**data, "none": {}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Event:
        _require_one(self, EVENT_KINDS, "an event")
        return self

    @property
    def kind(self) -> str:
        """The event kind that is set, e.g. ``syslog``."""
        return _kind_of(self, EVENT_KINDS)


def _require_one(model: BaseModel, kinds: tuple[str, ...], what: str) -> None:
    found = [name for name in kinds if getattr(model, name) is not None]
    if len(found) != 1:
        listed = ", ".join(found) if found else "none of them"
        raise ValueError(f"{what} needs exactly one of {', '.join(kinds)}; found {listed}")


def _kind_of(model: BaseModel, kinds: tuple[str, ...]) -> str:
    return next(name for name in kinds if getattr(model, name) is not None)
