"""The SMTP password must fit the server string IOS XE stores as configuration text."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from models.eem import MailServer


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ('abc"def', "string delimiter"),
        ("pässword", "non-ASCII or control character"),
        ("abc\x07def", "non-ASCII or control character"),
        ("abc def", "whitespace"),
        ("abc@def", "contains '@'"),
    ],
)
def test_password_rejected_without_showing_it(password: str, reason: str) -> None:
    with pytest.raises(ValidationError) as raised:
        MailServer(username="alerts", host="smtp.example.com", password=SecretStr(password))

    message = str(raised.value)
    assert reason in message
    assert password not in message


def test_printable_ascii_password_accepted() -> None:
    server = MailServer(username="alerts", host="smtp.example.com", password=SecretStr("abcd!efgh#ijkl$mnop"))

    assert server.server_string(reveal=True) == "alerts:abcd!efgh#ijkl$mnop@smtp.example.com"
