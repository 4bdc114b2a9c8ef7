"""Loading intent files: the example, errors with file, line and field, and secret handling."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from models.eem import MailServer
from models.errors import IntentError
from models.intent import load_intent, parse_intent
from tests.conftest import SMTP_PASSWORD

MINIMAL = """\
environment:
  _email_from: eem.alerts@gmail.com
  _email_server:
    username: eem.alerts
    password_env: SMTP_PASSWORD
    host: smtp.gmail.com
applets:
  - name: Mailer
    event:
      none: {}
    actions:
      - label: "0010"
        mail:
          server: "$_email_server"
          to: "noc@example.com"
          from: "$_email_from"
          subject: "s"
          body: "b"
"""


def test_example_intent_matches_tech_note(example_intent_path: Path, smtp_password: str) -> None:
    intent = load_intent(example_intent_path)

    assert set(intent.environment) == {"_email_from", "_email_to", "_email_server"}
    server = intent.environment["_email_server"]
    assert isinstance(server, MailServer)
    assert server.host == "smtp.gmail.com"
    assert server.server_string(reveal=True) == f"eem.alerts.example:{smtp_password}@smtp.gmail.com"
    applet = intent.applets[0]
    assert applet.name == "SendSecureEmailEEM"
    assert applet.event.kind == "none"
    assert [(action.label, action.kind) for action in applet.actions] == [("0010", "mail")]
    mail = applet.actions[0].mail
    assert mail is not None and mail.port == 587 and mail.secure == "tls"
    assert [tp.name for tp in intent.trustpoints] == ["CA-GTS-1C3", "CA-GTS-Root-R1", "CA-GlobalSign-Root"]
    assert all(tp.revocation_check == ["none"] and tp.chain_validation == "stop" for tp in intent.trustpoints)


def test_missing_password_variable_is_named() -> None:
    with pytest.raises(IntentError, match=r"x.yaml:3: environment._email_server: environment variable SMTP_PASSWORD is not set"):
        parse_intent(MINIMAL, source="x.yaml", environ={})


def test_offline_load_needs_no_password() -> None:
    intent = parse_intent(MINIMAL, environ={}, resolve_secrets=False)

    server = intent.environment["_email_server"]
    assert isinstance(server, MailServer) and server.password is None
    assert server.server_string() == "eem.alerts:********@smtp.gmail.com"


def test_password_in_file_is_rejected_without_echo() -> None:
    text = MINIMAL.replace("password_env: SMTP_PASSWORD", f"password: {SMTP_PASSWORD}")

    with pytest.raises(IntentError) as caught:
        parse_intent(text, environ={})

    assert "must not be written in the intent file" in str(caught.value)
    assert SMTP_PASSWORD not in str(caught.value)


def test_unknown_key_names_line_and_field() -> None:
    text = MINIMAL.replace('          body: "b"\n', '          body: "b"\n          colour: red\n')

    with pytest.raises(IntentError, match=r"<string>:19: applets\[0\]\.actions\[0\]\.mail\.colour: unknown key"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})


def test_every_problem_is_listed() -> None:
    text = MINIMAL.replace('label: "0010"', "label: 10").replace("host: smtp.gmail.com", "host: smtp..gmail")

    with pytest.raises(IntentError) as caught:
        parse_intent(text, environ={})

    fields = [problem.field for problem in caught.value.problems]
    assert "applets[0].actions[0].label" in fields
    assert "environment._email_server" in fields
    assert len(caught.value.problems) == 2


def test_unquoted_label_explains_leading_zeros() -> None:
    with pytest.raises(IntentError, match=r'label 10 was read as a number.*quote it, e.g. "0010"'):
        parse_intent(MINIMAL.replace('label: "0010"', "label: 10"), environ={"SMTP_PASSWORD": "x"})


def test_at_sign_in_username_is_rejected() -> None:
    text = MINIMAL.replace("username: eem.alerts", "username: eem.alerts@gmail.com")

    with pytest.raises(IntentError, match=r"username contains '@'.*use an account name without '@'"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})


def test_password_with_spaces_is_rejected_without_echo() -> None:
    with pytest.raises(IntentError) as caught:
        parse_intent(MINIMAL, environ={"SMTP_PASSWORD": "abcd efgh ijkl mnop"})

    assert "app passwords are shown in groups separated by spaces" in str(caught.value)
    assert "abcd" not in str(caught.value)


def test_port_587_without_tls_is_rejected() -> None:
    text = MINIMAL.replace('          body: "b"\n', '          body: "b"\n          secure: none\n')

    with pytest.raises(IntentError, match="credentials in clear text; set secure: tls"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})


def test_quote_in_subject_is_rejected() -> None:
    text = MINIMAL.replace('subject: "s"', "subject: 'say \"hi\"'")

    with pytest.raises(IntentError, match="subject contains a double quote at position 5"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})


def test_labels_out_of_string_order_are_rejected() -> None:
    text = MINIMAL + """\
      - label: "9"
        syslog: {msg: "nine"}
      - label: "10"
        syslog: {msg: "ten"}
"""
    with pytest.raises(IntentError, match="string order of their labels.*use zero-padded labels"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})


def test_invalid_yaml_names_line() -> None:
    with pytest.raises(IntentError, match=r"bad.yaml:3: invalid YAML: expected ',' or ']'"):
        parse_intent("environment:\n  - [unclosed\n", source="bad.yaml")


def test_duplicate_key_does_not_echo_values() -> None:
    text = "environment:\n  _token: first-secret\n  _token: second-secret\n"

    with pytest.raises(IntentError, match=r'bad.yaml:3: invalid YAML: found duplicate key "_token"') as caught:
        parse_intent(text, source="bad.yaml")

    assert "secret" not in str(caught.value)


def test_repr_and_dump_hide_password(smtp_password: str) -> None:
    intent = parse_intent(MINIMAL)

    assert smtp_password not in repr(intent)
    assert smtp_password not in intent.model_dump_json()
    assert smtp_password in intent.secrets()


def test_library_password_error_hides_value() -> None:
    secret = "bad pass@word"

    with pytest.raises(ValidationError) as caught:
        MailServer(username="eem.alerts", host="smtp.gmail.com", password=secret)  # type: ignore[arg-type]

    assert "whitespace" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert secret not in repr(caught.value.errors(include_input=False))


def test_password_errors_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "abcd efgh@ijkl"

    with pytest.raises(IntentError) as caught:
        parse_intent(MINIMAL, environ={"SMTP_PASSWORD": secret})

    assert secret not in str(caught.value)
    assert all(secret not in record.getMessage() for record in caplog.records)


def test_warning_names_line_and_field() -> None:
    intent = parse_intent(MINIMAL, source="mail.yaml", environ={"SMTP_PASSWORD": "x"})

    assert [str(warning) for warning in intent.warnings] == [
        "mail.yaml:13: warning: applets[0].actions[0].mail.secure: action 0010 uses secure tls, but the intent has no "
        "trustpoint and lists no existing_trustpoints, so the TLS handshake will fail with a bad_certificate "
        "alert unless the device already trusts the SMTP server's CA"
    ]


def test_existing_trustpoint_silences_tls_warning() -> None:
    intent = parse_intent(MINIMAL + "existing_trustpoints: [CA-GlobalSign-Root]\n", environ={"SMTP_PASSWORD": "x"})

    assert intent.warnings == []


def test_provided_variable_may_be_used() -> None:
    text = MINIMAL.replace('to: "noc@example.com"', 'to: "$_email_to"')

    with pytest.raises(IntentError, match=r"uses \$_email_to, which is not defined"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})
    intent = parse_intent(text + "provided_variables: [_email_to]\n", environ={"SMTP_PASSWORD": "x"})
    assert intent.provided_variables == ["_email_to"]


def test_variable_set_earlier_may_be_used() -> None:
    text = MINIMAL.replace('      - label: "0010"', '      - label: "0005"\n        set: {name: host, value: "r1"}\n      - label: "0010"')
    intent = parse_intent(text.replace('subject: "s"', 'subject: "alert from $host"'), environ={"SMTP_PASSWORD": "x"})

    assert [action.kind for action in intent.applets[0].actions] == ["set", "mail"]


def test_send_as_allowed_per_action() -> None:
    text = MINIMAL.replace("_email_from: eem.alerts@gmail.com", "_email_from: noc-bot@example.com")

    with pytest.raises(IntentError, match="sends from noc-bot@example.com, but the account"):
        parse_intent(text, environ={"SMTP_PASSWORD": "x"})
    allowed = text.replace('body: "b"', 'body: "b"\n          allow_send_as: true')
    assert parse_intent(allowed, environ={"SMTP_PASSWORD": "x"}).applets[0].actions[0].mail is not None


def test_cli_usage_error_exits_1() -> None:
    from click.testing import CliRunner

    from provisioner.cli import main

    result = CliRunner().invoke(main, ["plan", "intent.yaml", "--output", "yaml"])

    # 2 means "changes pending" for plan and "findings" for check, so usage errors must not use it.
    assert result.exit_code == 1
    assert "Invalid value for '--output'" in result.output


def test_empty_password_variable_is_named() -> None:
    with pytest.raises(IntentError, match="environment variable SMTP_PASSWORD is not set or empty"):
        parse_intent(MINIMAL, environ={"SMTP_PASSWORD": ""})
