"""The IOS configuration-mode CLI subset that ``Cisco-IOS-XE-cli-rpc:config-ios-cli-rpc``
accepts on the lab device.

Lines are applied one by one straight to running, outside any NETCONF transaction, as on
IOS XE 17.9+: a failing line stops processing and the lines before it stay applied.
Supported commands (anything else is invalid input):

    event manager environment NAME VALUE / no event manager environment NAME
    event manager applet NAME [class C] [authorization bypass] [trap] / no event manager applet NAME
     description TEXT
     event none [sync yes|no] [default N] [maxrun N] [ratelimit N]
     event syslog [occurs N] pattern "P" [period N] [maxrun N] [ratelimit N]
     event track N [state up|down|any] [maxrun N] [ratelimit N]
     event timer cron [name "N"] cron-entry "M H D M W" [maxrun N] [ratelimit N]
     event timer watchdog|countdown|absolute [name "N"] time N [maxrun N] [ratelimit N]
     event ipsla group-name "G" reaction-type T [maxrun N] [ratelimit N]
     event routing network PREFIX [type add|all|modify|remove] [maxrun N] [ratelimit N]
     event cli pattern "P" sync yes | sync no skip yes|no
     action LABEL cli command "C"
     action LABEL syslog [priority P] msg "M" [facility "F"]
     action LABEL regexp "PATTERN" "INPUT" [MATCH [SUB1 [SUB2 [SUB3]]]]
     action LABEL if "A" OP "B" [goto LABEL]      (OP: eq ne gt ge lt le)
     action LABEL elseif|while "A" OP "B"
     action LABEL else|end|break|continue|exit|reload
     action LABEL set|append VAR "VALUE" / increment|decrement VAR [N]
     action LABEL foreach VAR "ITERATOR" ["DELIMITER"]
     action LABEL wait N / puts [nonewline] "TEXT" / gets VAR
     action LABEL string trim "INPUT" ["CHARACTERS"]
     action LABEL context save key KEY variable "PATTERN" / context retrieve key KEY [variable "P"]
     action LABEL snmp-trap [intdata1 N] [intdata2 N] [strdata "S"]
     action LABEL mail server "S" to "T" from "F" [cc "C"] subject "S" body "B"
         [source-interface IF | source-address IP] [port N] [secure tls|none]
     no action LABEL
    crypto pki trustpoint NAME / no crypto pki trustpoint NAME
     enrollment terminal [pem]
     revocation-check {crl|none|ocsp}...
     chain-validation stop | chain-validation continue [TRUSTPOINT]
    crypto pki certificate chain NAME
     certificate ca SERIAL, then hex lines and quit   (body not modelled)
     no certificate [ca] SERIAL                        (an unknown SERIAL is an error)
    exit, end, and lines starting with "!"

An applet event or action goes to running when the device's release models it in YANG, that
is when its schema has every node the line fills. Otherwise the line goes to the unmodelled
store, which get-config never shows. On 17.12 that is the mail action, ``event cli``, set,
append, increment, decrement, elseif, else, while, break, continue, foreach, puts, gets,
context and ``string trim`` with a characters argument.

NOTE: events and actions are built in the 17.12 shape only, so on a 17.15 or 17.18 lab the
verbs that moved under ``action-config`` stay unmodelled.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab import datastore
from provisioner.lab.datastore import add_child, make_element
from provisioner.lab.device import DeviceState
from provisioner.lab.schema import SchemaNode

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
    """One word of a CLI line; quoted strings lose their quotes and set ``quoted``."""

    text: str
    column: int
    quoted: bool = False


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


def tokenize(line: str, *, strict: bool = False) -> list[Token]:
    """Split a CLI line into words; ``"..."`` is one word without its quotes.

    Args:
        line: The CLI line.
        strict: Also reject a quote inside a bare word and text glued to a closing quote.
            Applet lines use this; global lines keep such quotes, because an environment
            value is stored as typed.

    Raises:
        CliError: A quote is not closed, or (strict) a word is quoted only in part.
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
            if strict and end + 1 < len(line) and not line[end + 1].isspace():
                # NOTE: guessed; EEM has no escape for a quote, so this treats text glued to
                # a closing quote as a typo rather than as one word.
                raise CliError(end + 1)
            tokens.append(Token(line[index + 1:end], index, quoted=True))
            index = end + 1
            continue
        end = index
        while end < len(line) and not line[end].isspace():
            if strict and line[end] == '"':
                raise CliError(end)
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


# Applet grammar. Each event and action kind is a Form, which lists its words, plus the YANG
# containers and leaves it fills when a model has the kind. The device's schema then decides
# whether its release models the line, and a line is modelled only if every argument has a leaf.

Check = Callable[[Token], str]


def _text(token: Token) -> str:
    return token.text


def _word(token: Token) -> str:
    """Return a bare word: a variable name, a context key or an action label."""
    # NOTE: guessed; IOS XE may accept a quoted variable name, this lab does not.
    if token.quoted or not token.text:
        raise CliError(token.column)
    return token.text


def _integer(low: int, high: int) -> Check:
    def check(token: Token) -> str:
        if token.quoted or not re.fullmatch(r"-?[0-9]+", token.text):
            raise CliError(token.column)
        if not low <= int(token.text) <= high:
            raise CliError(token.column)
        return token.text
    return check


def _choice(*values: str) -> Check:
    def check(token: Token) -> str:
        if token.quoted or token.text not in values:
            raise CliError(token.column)
        return token.text
    return check


def _matching(pattern: str) -> Check:
    def check(token: Token) -> str:
        if token.quoted or not re.fullmatch(pattern, token.text):
            raise CliError(token.column)
        return token.text
    return check


def _priority(token: Token) -> str:
    if token.text in _SYSLOG_PRIORITIES or (token.text.isdigit() and int(token.text) <= 7):
        return token.text
    raise CliError(token.column)


def _prefix(token: Token) -> str:
    # Cisco-IOS-XE-eem types the network as an IPv4 or IPv6 prefix, so the length is needed.
    try:
        ipaddress.ip_network(token.text, strict=False)
    except ValueError:
        raise CliError(token.column) from None
    if "/" not in token.text:
        raise CliError(token.column)
    return token.text


def _cron_entry(token: Token) -> str:
    # NOTE: guessed; IOS XE checks the five cron fields further (ranges, names of days).
    if len(token.text.split()) != 5:
        raise CliError(token.column)
    return token.text


_UINT32 = _integer(0, 2**32 - 1)
# NOTE: guessed; the command reference calls these a long integer, taken as 32-bit signed.
_INT32 = _integer(-(2**31), 2**31 - 1)
_OPERATOR = _choice("eq", "ne", "gt", "ge", "lt", "le")
_YES_NO = _choice("yes", "no")
_IPSLA_REACTIONS = (
    "connectionLoss", "icpif", "jitterAvg", "jitterDSAvg", "jitterSDAvg", "maxOfNegativeDS",
    "maxOfNegativeSD", "maxOfPositiveDS", "maxOfPositiveSD", "mos", "packetLateArrival",
    "packetLossDS", "packetLossSD", "packetMIA", "packetOutOfSequence", "rtt", "timeout",
    "verifyError",
)


@dataclass(frozen=True)
class Arg:
    """A positional argument; optional ones may only end the list."""

    name: str
    check: Check
    optional: bool = False


@dataclass(frozen=True)
class Opt:
    """A ``KEYWORD VALUE`` option, or a bare ``KEYWORD`` flag when ``check`` is None."""

    keyword: str
    check: Check | None = None
    required: bool = False


@dataclass(frozen=True)
class Form:
    """The words after a kind: flags that may lead, positional arguments, then options in
    any order, each at most once."""

    lead: tuple[Opt, ...] = ()
    args: tuple[Arg, ...] = ()
    options: tuple[Opt, ...] = ()


@dataclass
class Parsed:
    """Values of a parsed form by argument name or option keyword (flags hold ``""``), and
    the column where each starts."""

    values: dict[str, str] = field(default_factory=dict)
    columns: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Kind:
    """An event or action kind.

    Attributes:
        form: Its grammar.
        path: The containers it fills under ``event`` or ``action[name]`` in the IOS XE 17.12
            shape; None when no YANG model of that shape has the kind.
        leaves: ``(argument or option, YANG leaf)`` pairs, in the order the model lists them.
        check: Extra rule across arguments.
    """

    form: Form
    path: tuple[str, ...] | None = None
    leaves: tuple[tuple[str, str], ...] = ()
    check: Callable[[Parsed, str], None] | None = None


def _same(*names: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, name) for name in names)


def _option_for(options: tuple[Opt, ...], token: Token, parsed: Parsed) -> Opt | None:
    if token.quoted:
        return None
    for option in options:
        if option.keyword == token.text and option.keyword not in parsed.values:
            return option
    return None


def _parse_options(options: tuple[Opt, ...], tokens: list[Token], position: int, line: str,
                   parsed: Parsed, *, lead: bool) -> int:
    while position < len(tokens):
        token = tokens[position]
        option = _option_for(options, token, parsed)
        if option is None:
            if lead:
                return position
            raise CliError(token.column)
        parsed.columns[option.keyword] = token.column
        if option.check is None:
            parsed.values[option.keyword] = ""
            position += 1
            continue
        if position + 1 >= len(tokens):
            raise CliError(len(line), INCOMPLETE)
        parsed.values[option.keyword] = option.check(tokens[position + 1])
        position += 2
    return position


def parse_form(form: Form, tokens: list[Token], position: int, line: str) -> Parsed:
    """Parse ``tokens[position:]`` against ``form``.

    Raises:
        CliError: A word is wrong (invalid input) or missing (incomplete command).
    """
    parsed = Parsed()
    position = _parse_options(form.lead, tokens, position, line, parsed, lead=True)
    for arg in form.args:
        at_end = position >= len(tokens)
        if arg.optional and (at_end or _option_for(form.options, tokens[position], parsed)):
            break
        if at_end:
            raise CliError(len(line), INCOMPLETE)
        parsed.values[arg.name] = arg.check(tokens[position])
        parsed.columns[arg.name] = tokens[position].column
        position += 1
    _parse_options(form.options, tokens, position, line, parsed, lead=False)
    for option in (*form.lead, *form.options):
        if option.required and option.keyword not in parsed.values:
            raise CliError(len(line), INCOMPLETE)
    return parsed


def lookup(table: dict[tuple[str, ...], Kind], tokens: list[Token], position: int,
           line: str) -> tuple[Kind, int]:
    """Find the kind named at ``tokens[position]`` (one or two words); return it and the
    position after its name.

    Raises:
        CliError: No kind has that name.
    """
    first = _expect(tokens, position, line)
    if tokens[position].quoted:
        raise CliError(tokens[position].column)
    if (first,) in table:
        return table[(first,)], position + 1
    second_words = [key[1] for key in table if len(key) == 2 and key[0] == first]
    if not second_words:
        raise CliError(tokens[position].column)
    second = _expect(tokens, position + 1, line, *second_words)
    return table[(first, second)], position + 2


def _cli_event_sync(parsed: Parsed, line: str) -> None:
    # NOTE: follows the command reference, `sync {yes | no skip {yes | no}}`: skip goes with
    # sync no only, and sync no needs it. Cisco-IOS-XE-eem (17.15) makes skip optional.
    if parsed.values["sync"] == "yes" and "skip" in parsed.values:
        raise CliError(parsed.columns["skip"])
    if parsed.values["sync"] == "no" and "skip" not in parsed.values:
        raise CliError(len(line), INCOMPLETE)


_TIMING = (Opt("maxrun", _UINT32), Opt("ratelimit", _UINT32))
_TIMING_LEAVES = _same("maxrun", "ratelimit")


def _timer(kind: str) -> Kind:
    value = Opt("cron-entry", _cron_entry, True) if kind == "cron" else Opt("time", _integer(1, 2**32 - 1), True)
    return Kind(Form(options=(Opt("name", _text), value, *_TIMING)), ("timer-choice", kind),
                _same(value.keyword, "name") + _TIMING_LEAVES)


# `event KIND ...` lines of applet mode.
EVENTS: dict[tuple[str, ...], Kind] = {
    ("none",): Kind(Form(options=(Opt("sync", _YES_NO), Opt("default", _UINT32), *_TIMING)),
                    ("none-choice",), _same("default", "maxrun", "ratelimit", "sync")),
    ("syslog",): Kind(
        Form(options=(Opt("occurs", _integer(1, 32)), Opt("pattern", _text, True),
                      Opt("period", _UINT32), *_TIMING)),
        ("syslog-choice",), _same("pattern", "occurs", "period") + _TIMING_LEAVES),
    ("track",): Kind(
        Form(args=(Arg("object", _integer(1, 1000)),),
             options=(Opt("state", _choice("up", "down", "any")), *_TIMING)),
        ("track-choice",), (("object", "track-object-number"), ("state", "state")) + _TIMING_LEAVES),
    **{("timer", kind): _timer(kind) for kind in ("cron", "watchdog", "countdown", "absolute")},
    ("ipsla",): Kind(
        Form(options=(Opt("group-name", _text, True),
                      Opt("reaction-type", _choice(*_IPSLA_REACTIONS), True), *_TIMING)),
        ("ipsla",), _same("group-name", "reaction-type") + _TIMING_LEAVES),
    ("routing",): Kind(
        Form(options=(Opt("network", _prefix, True),
                      Opt("type", _choice("add", "all", "modify", "remove")), *_TIMING)),
        ("routing",), _same("network", "type") + _TIMING_LEAVES),
    # Shape of Cisco-IOS-XE-eem 17.15; a 17.12 schema lacks it, so there it stays unmodelled.
    ("cli",): Kind(
        Form(options=(Opt("pattern", _text, True), Opt("sync", _YES_NO, True), Opt("skip", _YES_NO))),
        ("cli",), _same("pattern", "sync", "skip"), _cli_event_sync),
}

_CONDITION = (Arg("left", _text), Arg("op", _OPERATOR), Arg("right", _text))
_NAME_VALUE = Form(args=(Arg("name", _word), Arg("value", _text)))
_COUNTER = Form(args=(Arg("name", _word), Arg("by", _INT32, optional=True)))
_NO_ARGUMENTS = Form()

# `action LABEL KIND ...` lines of applet mode, except mail (see _parse_mail).
ACTIONS: dict[tuple[str, ...], Kind] = {
    ("cli",): Kind(Form(options=(Opt("command", _text, True),)), ("cli-choice",), _same("command")),
    ("syslog",): Kind(
        Form(options=(Opt("priority", _priority), Opt("msg", _text, True), Opt("facility", _text))),
        ("syslog-option",), _same("msg", "priority", "facility")),
    ("regexp",): Kind(
        Form(args=(Arg("pattern", _text), Arg("input", _text), Arg("match", _word, True),
                   *(Arg(f"submatch{n}", _word, True) for n in (1, 2, 3)))),
        ("regexp-option",),
        (("pattern", "string-pattern"), ("input", "string-input"), ("match", "string-match"),
         *((f"submatch{n}", f"string-submatch{n}") for n in (1, 2, 3)))),
    ("if",): Kind(Form(args=_CONDITION, options=(Opt("goto", _word),)), ("if",),
                  (("left", "string-op-1"), ("op", "keyword"), ("right", "string-op-2"),
                   ("goto", "goto"))),
    ("elseif",): Kind(Form(args=_CONDITION)),
    ("while",): Kind(Form(args=_CONDITION)),
    ("else",): Kind(_NO_ARGUMENTS),
    ("break",): Kind(_NO_ARGUMENTS),
    ("continue",): Kind(_NO_ARGUMENTS),
    ("end",): Kind(_NO_ARGUMENTS, ("end",)),
    ("exit",): Kind(_NO_ARGUMENTS, ("exit",)),
    ("reload",): Kind(_NO_ARGUMENTS, ("reload",)),
    ("set",): Kind(_NAME_VALUE),
    ("append",): Kind(_NAME_VALUE),
    ("increment",): Kind(_COUNTER),
    ("decrement",): Kind(_COUNTER),
    ("foreach",): Kind(Form(args=(Arg("name", _word), Arg("iterator", _text),
                                  Arg("delimiter", _text, True)))),
    ("wait",): Kind(Form(args=(Arg("seconds", _integer(1, 31536000)),)), (), (("seconds", "wait"),)),
    ("puts",): Kind(Form(lead=(Opt("nonewline"),), args=(Arg("text", _text),))),
    ("gets",): Kind(Form(args=(Arg("name", _word),))),
    # The YANG string/trim leaf contains the input only, so a characters argument is unmodelled.
    ("string", "trim"): Kind(Form(args=(Arg("input", _text), Arg("characters", _text, True))),
                             ("string",), (("input", "trim"),)),
    # NOTE: guessed; `context save` is taken to need both key and variable.
    ("context", "save"): Kind(Form(options=(Opt("key", _word, True), Opt("variable", _text, True)))),
    ("context", "retrieve"): Kind(Form(options=(Opt("key", _word, True), Opt("variable", _text)))),
    ("snmp-trap",): Kind(
        Form(options=(Opt("intdata1", _INT32), Opt("intdata2", _INT32), Opt("strdata", _text))),
        ("snmp-trap",), _same("intdata1", "intdata2", "strdata")),
}

# Options of the `event manager applet NAME` line; they are modelled leaves of the applet.
# NOTE: guessed; the options are taken in any order, each once.
APPLET_HEADER = Form(options=(Opt("authorization", _choice("bypass")),
                              Opt("class", _matching(r"[A-Z]|default")), Opt("trap")))


def build_yang(kind: Kind, parsed: Parsed, parent: etree._Element) -> bool:
    """Add the kind's YANG nodes to ``parent``; return False, adding nothing, when the kind has
    no YANG shape or an argument has no leaf."""
    mapped = dict(kind.leaves)
    if kind.path is None or any(name not in mapped for name in parsed.values):
        return False
    node = parent
    for tag in kind.path:
        node = add_child(node, _EEM + tag)
    for name, leaf_name in kind.leaves:
        if name in parsed.values:
            add_child(node, _EEM + leaf_name).text = parsed.values[name] or None
    return True


def fits(element: etree._Element, node: SchemaNode) -> bool:
    """Return whether every descendant of ``element`` is in the schema below ``node``."""
    for child in element:
        qname = etree.QName(child)
        sub = node.child(qname.namespace or "", qname.localname)
        if sub is None or (sub.is_leaf and len(child)):
            return False
        if not sub.is_leaf and not fits(child, sub):
            return False
    return True


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
        indented = line[0].isspace()
        tokens = tokenize(line, strict=indented and self.mode.name == "applet")
        words = _words(tokens)
        if words == ["end"]:
            self.mode = _Mode()
            return
        if words == ["exit"]:
            self.mode = _Mode()
            return
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
            elif negate:
                _no_more(tokens, position + 4)
                self._applet_command(name, negate, Parsed())
            else:
                header = parse_form(APPLET_HEADER, tokens, position + 4, line)
                self._applet_command(name, negate, header)
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

    def _applet_command(self, name: str, negate: bool, header: Parsed) -> None:
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
        applet = self._applet(name)
        assert applet is not None
        # NOTE: guessed. Options left off the line keep their value, because it is unknown
        # whether IOS XE clears them when an existing applet is entered again.
        for option, value in header.values.items():
            leaf = applet.find(_EEM + option)
            if leaf is None or (leaf.text or "") != value:
                if leaf is None:
                    leaf = add_child(applet, _EEM + option)
                leaf.text = value or None
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

    def _applet_schema(self) -> SchemaNode:
        node: SchemaNode | None = self.state.schema
        for namespace, name in ((ns.NATIVE, "native"), (ns.NATIVE, "event"),
                                (ns.EEM, "manager"), (ns.EEM, "applet")):
            assert node is not None
            node = node.child(namespace, name)
        assert node is not None
        return node

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
            kind, position = lookup(EVENTS, tokens, 1, line)
            parsed = parse_form(kind.form, tokens, position, line)
            if kind.check is not None:
                kind.check(parsed, line)
            self._set_event(applet, kind, parsed, line)
            return
        if first == "no":
            _expect(tokens, 1, line, "action")
            label = _word(tokens[2]) if len(tokens) > 2 else _expect(tokens, 2, line)
            _no_more(tokens, 3)
            self._remove_action(applet, label)
            return

        label = _word(tokens[1]) if len(tokens) > 1 else _expect(tokens, 1, line)
        if len(tokens) > 2 and tokens[2].text == "mail" and not tokens[2].quoted:
            _parse_mail(tokens, 3, line)
            self._store_unmodelled_action(applet, label, line)
            return
        kind, position = lookup(ACTIONS, tokens, 2, line)
        parsed = parse_form(kind.form, tokens, position, line)
        if kind.check is not None:
            kind.check(parsed, line)

        action = make_element(_EEM + "action")
        add_child(action, _EEM + "name").text = label
        action_schema = self._applet_schema().child(ns.EEM, "action")
        if (action_schema is None or not build_yang(kind, parsed, action)
                or not fits(action, action_schema)):
            self._store_unmodelled_action(applet, label, line)
            return
        existing = _entry(applet, _EEM + "action", _EEM + "name", label, create=False)
        if existing is not None:
            applet.replace(existing, action)
        else:
            applet.append(action)
        if self.state.unmodelled.remove_action(self.mode.key, label):
            self.changed_unmodelled = True
        self._modelled()

    def _store_unmodelled_action(self, applet: etree._Element, label: str, line: str) -> None:
        # A label has one action, so the line replaces a modelled action of that label.
        self._remove_modelled_action(applet, label)
        self.state.unmodelled.set_action(self.mode.key, label, line.strip())
        self.changed_unmodelled = True

    def _set_event(self, applet: etree._Element, kind: Kind, parsed: Parsed, line: str) -> None:
        """Give the applet its one event: in running when the release models it, else in the
        unmodelled store. Either way it replaces the previous event."""
        event = make_element(_EEM + "event")
        event_schema = self._applet_schema().child(ns.EEM, "event")
        modelled = (event_schema is not None and build_yang(kind, parsed, event)
                    and fits(event, event_schema))
        old = applet.find(_EEM + "event")
        if old is not None:
            applet.remove(old)
            self._modelled()
        if not modelled:
            self.state.unmodelled.set_event(self.mode.key, line.strip())
            self.changed_unmodelled = True
            return
        # YANG lists the event before the actions.
        first_action = applet.find(_EEM + "action")
        if first_action is not None:
            first_action.addprevious(event)
        else:
            applet.append(event)
        if self.state.unmodelled.remove_event(self.mode.key):
            self.changed_unmodelled = True
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
            position = 3 if len(words) > 3 and words[2] == "ca" else 2
            serial = _expect(tokens, position, line)
            _no_more(tokens, position + 1)
            self._remove_certificate(serial, tokens[position].column)
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

    def _remove_certificate(self, serial: str, column: int) -> None:
        chain_name, serial = self.mode.key, serial.upper()
        pki = self._pki(create=False)
        certificate = pki.find(_CRYPTO + "certificate") if pki is not None else None
        chain = (_entry(certificate, _CRYPTO + "chain", _CRYPTO + "name", chain_name, False)
                 if certificate is not None else None)
        entry = (_entry(chain, _CRYPTO + "certificate", _CRYPTO + "serial", serial, False)
                 if chain is not None else None)
        removed = self.state.unmodelled.remove_certificate(chain_name, serial)
        if not removed and entry is None:
            # NOTE: a guess, not checked on a device: this wording for a serial the chain lacks,
            # and removing at once with no confirmation prompt, which the console may show.
            raise CliError(column, f"% Certificate {serial} not found in chain {chain_name}.")
        self.changed_unmodelled = self.changed_unmodelled or removed
        if chain is not None and entry is not None:
            chain.remove(entry)
            # The lab adds a chain entry with its first certificate, so it drops the entry with
            # its last one.
            if chain.find(_CRYPTO + "certificate") is None and certificate is not None:
                certificate.remove(chain)
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
