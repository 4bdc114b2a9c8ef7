"""Names for the objects an intent owns on a device, shared by rendering, reading back and diffs."""

from __future__ import annotations

from typing import Literal, NamedTuple

ObjectKind = Literal["environment", "applet", "trustpoint"]


class ObjectKey(NamedTuple):
    """One owned object: an environment variable, an applet or a trustpoint, by name."""

    kind: ObjectKind
    name: str

    def __str__(self) -> str:
        titles = {
            "environment": "event manager environment",
            "applet": "event manager applet",
            "trustpoint": "crypto pki trustpoint",
        }
        return f"{titles[self.kind]} {self.name}"

    def xpath(self) -> str:
        """Return the object's path in Cisco-IOS-XE-native, as IOS XE writes it in an error-path."""
        if self.kind == "environment":
            return f"/native/event/manager/environment[name='{self.name}']"
        if self.kind == "applet":
            return f"/native/event/manager/applet[name='{self.name}']"
        return f"/native/crypto/pki/trustpoint[id='{self.name}']"
