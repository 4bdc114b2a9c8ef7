"""Checks for strings that end up inside IOS CLI lines or EEM quoted arguments."""

from __future__ import annotations

# IOS has no escape for a double quote inside a quoted EEM argument, and a line break would end the
# command and start a new one, which through config-ios-cli-rpc means injecting configuration.
_FORBIDDEN = {'"': "a double quote", "\n": "a line feed", "\r": "a carriage return"}


def check_cli_text(value: str, *, what: str) -> str:
    """Return ``value`` unchanged, or raise ValueError if it cannot travel inside one IOS CLI line.

    Args:
        value: the string from the intent.
        what: how to name the value in the message, e.g. ``subject``.
    """
    for position, character in enumerate(value, start=1):
        if character in _FORBIDDEN:
            raise ValueError(
                f"{what} contains {_FORBIDDEN[character]} at position {position}; IOS CLI cannot "
                "carry it inside one command, so remove it"
            )
        if not (" " <= character <= "~"):
            raise ValueError(
                f"{what} contains the non-ASCII or control character {character!r} (U+{ord(character):04X}) "
                f"at position {position}; the CLI line and the mail headers EEM writes carry no "
                "character encoding, so use printable ASCII only"
            )
    return value
