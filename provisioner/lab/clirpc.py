"""The IOS configuration-mode CLI subset that ``Cisco-IOS-XE-cli-rpc:config-ios-cli-rpc``
accepts on the lab device.

Lines are applied one by one straight to running, outside any NETCONF transaction, as on
IOS XE 17.9+: a failing line stops processing and the lines before it stay applied.
Supported commands (anything else is invalid input):

    event manager environment NAME VALUE / no event manager environment NAME
    event manager applet NAME / no event manager applet NAME
     description TEXT
     event none [maxrun N]
     action LABEL syslog [priority P] [facility F] msg "TEXT"
     action LABEL cli command "TEXT"
     action LABEL mail server "S" to "T" from "F" [cc "C"] subject "S" body "B"
         [source-interface IF | source-address IP] [port N] [secure tls]   (not modelled)
     no action LABEL
    crypto pki trustpoint NAME / no crypto pki trustpoint NAME
     enrollment terminal [pem]
     revocation-check {crl|none|ocsp}...
     chain-validation stop | chain-validation continue [TRUSTPOINT]
    crypto pki certificate chain NAME
     certificate ca SERIAL, then hex lines and quit   (body not modelled)
     no certificate SERIAL
    exit, end, and lines starting with "!"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab import datastore
from provisioner.lab.datastore import add_child, make_element
from provisioner.lab.device import DeviceState

INVALID_INPUT = "% Invalid input detected at '^' marker."
INCOMPLETE = "% Incomplete command."

_IOS = f"{{{ns.NATIVE}}}"
_EEM = f"{{{ns.EEM}}}"
_CRYPTO = f"{{{ns.CRYPTO}}}"
_HEX_GROUP = re.compile(r"^[0-9A-Fa-f]+$")
_REVOCATION_METHODS = ("crl", "none", "ocsp")
_SYSLOG_PRIORITIES = ("emergencies", "alerts", "critical", "errors", "warnings",
                      "notifications", "informational", "debugging")


@dataclass
class Token:
    """One word of a CLI line; quoted strings lose their quotes."""

    text: str
    column: int


class CliError(Exception):
    """A line the parser rejects, with the column of the ``^`` marker."""

    def __init__(self, column: int, message: str = INVALID_INPUT) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass
class CliResult:
    """Outcome of one config-ios-cli-rpc call, in the leaves of its YANG output."""

    result: str
    lineno: int | None = None
    error_string: str | None = None
    error_tag: str | None = None
    changed_modelled: bool = False

    @property
    def ok(self) -> bool:
        """True when every line was applied."""
        return self.lineno is None


def tokenize(line: str) -> list[Token]:
    """Split a CLI line into words; ``"..."`` is one word without its quotes.

    Raises:
        CliError: A quote is not closed.
    """
    tokens: list[Token] = []
    index = 0
    while index < len(line):
        if line[index].isspace():
            index += 1
            continue
        if line[index] == '"':
            end = line.find('"', index + 1)
            if end < 0:
                raise CliError(index)
            tokens.append(Token(line[index + 1:end], index))
            index = end + 1
            continue
        end = index
        while end < len(line) and not line[end].isspace():
            end += 1
        tokens.append(Token(line[index:end], index))
        index = end
    return tokens


def _words(tokens: list[Token]) -> list[str]:
    return [token.text for token in tokens]


def _expect(tokens: list[Token], position: int, line: str, *choices: str) -> str:
    if position >= len(tokens):
        raise CliError(len(line), INCOMPLETE)
    word = tokens[position].text
    if choices and word not in choices:
        raise CliError(tokens[position].column)
    return word


def _no_more(tokens: list[Token], position: int) -> None:
    if position < len(tokens):
        raise CliError(tokens[position].column)


def _child(parent: etree._Element, tag: str, create: bool = True) -> etree._Element | None:
    element = parent.find(tag)
    if element is None and create:
        element = add_child(parent, tag)
    return element


def _entry(parent: etree._Element, tag: str, key_tag: str, key: str,
           create: bool = True) -> etree._Element | None:
    for element in parent.findall(tag):
        if (element.findtext(key_tag) or "").strip() == key:
            return element
    if not create:
        return None
    element = add_child(parent, tag)
    add_child(element, key_tag).text = key
    return element


@dataclass
class _Mode:
    """Parser position: global config, or a sub-mode with the object it edits."""

    name: str = "global"
    key: str = ""
    serial: str = ""
    hex_lines: list[str] = field(default_factory=list)


class CliSession:
    """Applies one config-ios-cli-rpc text to a device's running configuration."""

    def __init__(self, state: DeviceState) -> None:
        self.state = state
        self.mode = _Mode()
        self.changed_modelled = False
        self.changed_unmodelled = False

    # Tree helpers over the true running datastore

    def _native(self) -> etree._Element:
        native = self.state.running.find(_IOS + "native")
        if native is None:
            native = add_child(self.state.running, _IOS + "native")
        return native

    def _manager(self, create: bool = True) -> etree._Element | None:
        event = _child(self._native(), _IOS + "event", create)
        if event is None:
            return None
        return _child(event, _EEM + "manager", create)

    def _pki(self, create: bool = True) -> etree._Element | None:
        crypto = _child(self._native(), _IOS + "crypto", create)
        if crypto is None:
            return None
        return _child(crypto, _CRYPTO + "pki", create)

    def _applet(self, name: str, create: bool = True) -> etree._Element | None:
        manager = self._manager(create)
        if manager is None:
            return None
        return _entry(manager, _EEM + "applet", _EEM + "name", name, create)

    def _trustpoint(self, name: str, create: bool = True) -> etree._Element | None:
        pki = self._pki(create)
        if pki is None:
            return None
        return _entry(pki, _CRYPTO + "trustpoint", _CRYPTO + "id", name, create)

    def _modelled(self) -> None:
        self.changed_modelled = True

    # Line dispatch

    def apply_line(self, raw: str) -> None:
        """Apply one line.

        Raises:
            CliError: The line is invalid or incomplete in the current mode.
        """
        line = raw.rstrip()
        if self.mode.name == "hex":
            self._hex_line(line)
            return
        stripped = line.strip()
        if not stripped or stripped.startswith("!"):
            return
        tokens = tokenize(line)
        words = _words(tokens)
        if words == ["end"]:
            self.mode = _Mode()
            return
        if words == ["exit"]:
            self.mode = _Mode()
            return
        indented = line[0].isspace()
        if indented and self.mode.name != "global":
            handler = {
                "applet": self._applet_line,
                "trustpoint": self._trustpoint_line,
                "chain": self._chain_line,
            }[self.mode.name]
            handler(tokens, line)
            return
        # IOS leaves a sub-mode when a line parses as a global command.
        self.mode = _Mode()
        self._global_line(tokens, line)

    def _global_line(self, tokens: list[Token], line: str) -> None:
        words = _words(tokens)
        negate = bool(words) and words[0] == "no"
        position = 1 if negate else 0
        first = _expect(tokens, position, line, "event", "crypto")
        if first == "event":
            _expect(tokens, position + 1, line, "manager")
            kind = _expect(tokens, position + 2, line, "environment", "applet")
            name = _expect(tokens, position + 3, line)
            if kind == "environment":
                self._environment(tokens, position + 4, line, name, negate)
            else:
                _no_more(tokens, position + 4)
                self._applet_command(name, negate)
            return

        _expect(tokens, position + 1, line, "pki")
        kind = _expect(tokens, position + 2, line, "trustpoint", "certificate")
        if kind == "trustpoint":
            name = _expect(tokens, position + 3, line)
            _no_more(tokens, position + 4)
            self._trustpoint_command(name, negate)
            return

        if negate:
            raise CliError(tokens[position + 2].column)
        _expect(tokens, position + 3, line, "chain")
        name = _expect(tokens, position + 4, line)
        _no_more(tokens, position + 5)
        if self._trustpoint(name, create=False) is None:
            # NOTE: IOS XE's exact wording for a chain without a trustpoint is unverified.
            raise CliError(tokens[position + 4].column,
                           f"% Error: trustpoint {name} does not exist; "
                           "configure crypto pki trustpoint first.")
        self.mode = _Mode("chain", name)

    def _environment(self, tokens: list[Token], position: int, line: str, name: str,
                     negate: bool) -> None:
        manager = self._manager(create=not negate)
        if negate:
            if manager is not None:
                entry = _entry(manager, _EEM + "environment", _EEM + "name", name, create=False)
                if entry is not None:
                    manager.remove(entry)
                    self._modelled()
            return
        if position >= len(tokens):
            raise CliError(len(line), INCOMPLETE)
        # The value is the rest of the line, spaces and quotes included, as IOS stores it.
        value = line[tokens[position].column:].strip()
        assert manager is not None
        entry = _entry(manager, _EEM + "environment", _EEM + "name", name)
        assert entry is not None
        _child(entry, _EEM + "value").text = value  # type: ignore[union-attr]
        self._modelled()

    def _applet_command(self, name: str, negate: bool) -> None:
        if negate:
            manager = self._manager(create=False)
            applet = self._applet(name, create=False) if manager is not None else None
            if applet is not None and manager is not None:
                manager.remove(applet)
                self._modelled()
            if self.state.unmodelled.drop_applets({name}):
                self.changed_unmodelled = True
            return
        if self._applet(name, create=False) is None:
            self._applet(name)
            self._modelled()
        self.mode = _Mode("applet", name)

    def _trustpoint_command(self, name: str, negate: bool) -> None:
        if negate:
            pki = self._pki(create=False)
            trustpoint = self._trustpoint(name, create=False) if pki is not None else None
            if trustpoint is not None and pki is not None:
                pki.remove(trustpoint)
                self._remove_chain(name)
                self._modelled()
            return
        if self._trustpoint(name, create=False) is None:
            self._trustpoint(name)
            self._modelled()
        self.mode = _Mode("trustpoint", name)

    def _remove_chain(self, name: str) -> None:
        # Removing a trustpoint destroys its certificates on IOS.
        pki = self._pki(create=False)
        certificate = pki.find(_CRYPTO + "certificate") if pki is not None else None
        if certificate is not None:
            chain = _entry(certificate, _CRYPTO + "chain", _CRYPTO + "name", name, create=False)
            if chain is not None:
                certificate.remove(chain)
        if self.state.unmodelled.certificates.pop(name, None) is not None:
            self.changed_unmodelled = True

    # Applet mode

    def _applet_line(self, tokens: list[Token], line: str) -> None:
        applet = self._applet(self.mode.key)
        assert applet is not None
        first = _expect(tokens, 0, line, "event", "action", "no", "description")
        if first == "description":
            if len(tokens) < 2:
                raise CliError(len(line), INCOMPLETE)
            _child(applet, _EEM + "description").text = (  # type: ignore[union-attr]
                line[tokens[1].column:].strip().strip('"')
            )
            self._modelled()
            return
        if first == "event":
            self._event_none(applet, tokens, line)
            return
        if first == "no":
            _expect(tokens, 1, line, "action")
            label = _expect(tokens, 2, line)
            _no_more(tokens, 3)
            self._remove_action(applet, label)
            return

        label = _expect(tokens, 1, line)
        verb = _expect(tokens, 2, line, "mail", "syslog", "cli")
        if verb == "mail":
            _parse_mail(tokens, 3, line)
            self._remove_modelled_action(applet, label)
            self.state.unmodelled.set_action(self.mode.key, label, line.strip())
            self.changed_unmodelled = True
            return

        action = make_element(_EEM + "action")
        add_child(action, _EEM + "name").text = label
        if verb == "syslog":
            option = add_child(action, _EEM + "syslog-option")
            for leaf, value in _parse_syslog(tokens, 3, line):
                add_child(option, _EEM + leaf).text = value
        else:
            _expect(tokens, 3, line, "command")
            command = _expect(tokens, 4, line)
            _no_more(tokens, 5)
            add_child(add_child(action, _EEM + "cli-choice"),
                             _EEM + "command").text = command

        existing = _entry(applet, _EEM + "action", _EEM + "name", label, create=False)
        if existing is not None:
            applet.replace(existing, action)
        else:
            applet.append(action)
        if self.state.unmodelled.remove_action(self.mode.key, label):
            self.changed_unmodelled = True
        self._modelled()

    def _event_none(self, applet: etree._Element, tokens: list[Token], line: str) -> None:
        _expect(tokens, 1, line, "none")
        maxrun = None
        if len(tokens) > 2:
            _expect(tokens, 2, line, "maxrun")
            maxrun = _expect(tokens, 3, line)
            if not maxrun.isdigit():
                raise CliError(tokens[3].column)
            _no_more(tokens, 4)
        event = _child(applet, _EEM + "event")
        assert event is not None
        # event-option is a YANG choice: "event none" replaces any other event.
        for child in list(event):
            event.remove(child)
        none = add_child(event, _EEM + "none-choice")
        if maxrun is not None:
            add_child(none, _EEM + "maxrun").text = maxrun
        self._modelled()

    def _remove_modelled_action(self, applet: etree._Element, label: str) -> None:
        existing = _entry(applet, _EEM + "action", _EEM + "name", label, create=False)
        if existing is not None:
            applet.remove(existing)
            self._modelled()

    def _remove_action(self, applet: etree._Element, label: str) -> None:
        self._remove_modelled_action(applet, label)
        if self.state.unmodelled.remove_action(self.mode.key, label):
            self.changed_unmodelled = True

    # Trustpoint mode

    def _trustpoint_line(self, tokens: list[Token], line: str) -> None:
        trustpoint = self._trustpoint(self.mode.key)
        assert trustpoint is not None
        first = _expect(tokens, 0, line, "enrollment", "revocation-check", "chain-validation")
        if first == "enrollment":
            _expect(tokens, 1, line, "terminal")
            pem = len(tokens) > 2 and _expect(tokens, 2, line, "pem") == "pem"
            _no_more(tokens, 3 if pem else 2)
            enrollment = _child(trustpoint, _CRYPTO + "enrollment")
            assert enrollment is not None
            for child in list(enrollment):
                enrollment.remove(child)
            method = add_child(enrollment, _CRYPTO + "enrollment-method")
            terminal = add_child(method, _CRYPTO + "terminal")
            if pem:
                add_child(terminal, _CRYPTO + "pem")
        elif first == "revocation-check":
            methods = [_expect(tokens, i, line, *_REVOCATION_METHODS)
                       for i in range(1, max(len(tokens), 2))]
            for old in trustpoint.findall(_CRYPTO + "revocation-check"):
                trustpoint.remove(old)
            for method_name in methods:
                add_child(trustpoint, _CRYPTO + "revocation-check").text = method_name
        else:
            kind = _expect(tokens, 1, line, "stop", "continue")
            validation = _child(trustpoint, _CRYPTO + "chain-validation")
            assert validation is not None
            for child in list(validation):
                validation.remove(child)
            if kind == "stop":
                _no_more(tokens, 2)
                add_child(validation, _CRYPTO + "stop")
            else:
                parent_tp = tokens[2].text if len(tokens) > 2 else ""
                _no_more(tokens, 3)
                add_child(validation, _CRYPTO + "continue").text = parent_tp
        self._modelled()

    # Certificate chain and hex mode

    def _chain_line(self, tokens: list[Token], line: str) -> None:
        words = _words(tokens)
        if words and words[0] == "no":
            _expect(tokens, 1, line, "certificate")
            serial = _expect(tokens, 2, line)
            _no_more(tokens, 3)
            self._remove_certificate(serial)
            return
        _expect(tokens, 0, line, "certificate")
        _expect(tokens, 1, line, "ca")
        serial = _expect(tokens, 2, line)
        _no_more(tokens, 3)
        if not _HEX_GROUP.match(serial):
            raise CliError(tokens[2].column)
        self.mode = _Mode("hex", self.mode.key, serial.upper())

    def _hex_line(self, line: str) -> None:
        tokens = tokenize(line)
        words = _words(tokens)
        if words == ["quit"]:
            self._store_certificate()
            return
        for token in tokens:
            if not _HEX_GROUP.match(token.text):
                raise CliError(token.column)
        self.mode.hex_lines.extend(words)

    def _store_certificate(self) -> None:
        chain_name, serial = self.mode.key, self.mode.serial
        body = "".join(self.mode.hex_lines).upper()
        if not body or len(body) % 2:
            # NOTE: the wording of IOS XE's message for a bad hex body is unverified.
            raise CliError(0, "% Error in saving certificate: status = FAIL")
        self.state.unmodelled.set_certificate(chain_name, serial, body)
        self.changed_unmodelled = True
        pki = self._pki()
        assert pki is not None
        certificate = _child(pki, _CRYPTO + "certificate")
        assert certificate is not None
        chain = _entry(certificate, _CRYPTO + "chain", _CRYPTO + "name", chain_name)
        assert chain is not None
        entry = _entry(chain, _CRYPTO + "certificate", _CRYPTO + "serial", serial)
        assert entry is not None
        _child(entry, _CRYPTO + "certtype").text = "ca"  # type: ignore[union-attr]
        self._modelled()
        self.mode = _Mode("chain", chain_name)

    def _remove_certificate(self, serial: str) -> None:
        chain_name = self.mode.key
        if self.state.unmodelled.remove_certificate(chain_name, serial.upper()):
            self.changed_unmodelled = True
        pki = self._pki(create=False)
        certificate = pki.find(_CRYPTO + "certificate") if pki is not None else None
        chain = (_entry(certificate, _CRYPTO + "chain", _CRYPTO + "name", chain_name, False)
                 if certificate is not None else None)
        entry = (_entry(chain, _CRYPTO + "certificate", _CRYPTO + "serial", serial.upper(), False)
                 if chain is not None else None)
        if chain is not None and entry is not None:
            chain.remove(entry)
            self._modelled()

    def finish(self) -> None:
        """End of input: a certificate still in hex mode was never closed with quit."""
        if self.mode.name == "hex":
            raise CliError(0, INCOMPLETE)


def _parse_mail(tokens: list[Token], position: int, line: str) -> None:
    """Check the grammar of an EEM mail action; its content is kept verbatim."""
    for keyword in ("server", "to", "from"):
        _expect(tokens, position, line, keyword)
        _expect(tokens, position + 1, line)
        position += 2
    if position < len(tokens) and tokens[position].text == "cc":
        _expect(tokens, position + 1, line)
        position += 2
    for keyword in ("subject", "body"):
        _expect(tokens, position, line, keyword)
        _expect(tokens, position + 1, line)
        position += 2
    if position < len(tokens) and tokens[position].text in ("source-interface", "source-address"):
        _expect(tokens, position + 1, line)
        position += 2
    if position < len(tokens) and tokens[position].text == "port":
        port = _expect(tokens, position + 1, line)
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise CliError(tokens[position + 1].column)
        position += 2
    if position < len(tokens) and tokens[position].text == "secure":
        _expect(tokens, position + 1, line, "tls", "none")
        position += 2
    _no_more(tokens, position)


def _parse_syslog(tokens: list[Token], position: int, line: str) -> list[tuple[str, str]]:
    leaves: list[tuple[str, str]] = []
    while True:
        keyword = _expect(tokens, position, line, "priority", "facility", "msg")
        value = _expect(tokens, position + 1, line)
        if keyword == "priority" and value not in _SYSLOG_PRIORITIES and not (
            value.isdigit() and int(value) <= 7
        ):
            raise CliError(tokens[position + 1].column)
        leaves.append((keyword, value))
        position += 2
        if keyword == "msg":
            _no_more(tokens, position)
            return leaves


def _caret_block(line: str, error: CliError) -> str:
    column = min(max(error.column, 0), len(line))
    return f"{line}\n{' ' * column}^\n{error.message}\n"


def _match_error_tag(output: str, patterns: list[tuple[str, str]]) -> str | None:
    for tag, pattern in patterns:
        try:
            if re.search(pattern, output):
                return tag
        except re.error:
            if pattern in output:
                return tag
    return None


def run_cli(state: DeviceState, text: str, error_patterns: list[tuple[str, str]]) -> CliResult:
    """Apply ``text`` line by line to the device's running configuration.

    Args:
        state: The device. The caller must have acquired ``state.lock``.
        text: The ``config-clis`` input.
        error_patterns: ``(error-tag, error-pattern)`` pairs from the request; the first
            pattern found in the parser output names the reply's error-tag.
    """
    before = {
        "running": datastore.copy_datastore(state.running),
        "candidate": datastore.copy_datastore(state.candidate),
    }
    candidate_was_dirty = state.candidate_dirty()
    session = CliSession(state)
    lines = text.split("\n")
    outcome = CliResult(result="")
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip("\r")
        try:
            session.apply_line(raw)
        except CliError as error:
            output = _caret_block(raw, error)
            outcome = CliResult(output, number, error.message,
                                _match_error_tag(output, error_patterns))
            break
    else:
        try:
            session.finish()
        except CliError as error:
            outcome = CliResult(error.message + "\n", len(lines), error.message,
                                _match_error_tag(error.message, error_patterns))

    outcome.changed_modelled = session.changed_modelled
    if session.changed_modelled:
        datastore.prune_empty(state.running, state.schema)
        if not candidate_was_dirty:
            state.candidate = datastore.copy_datastore(state.running)
        state.start_sync(before)
        state.save_running()
    if session.changed_unmodelled:
        state.save_unmodelled()
    return outcome
