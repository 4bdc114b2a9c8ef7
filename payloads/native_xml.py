"""Render intent objects into Cisco-IOS-XE-native XML for NETCONF edit-config (IOS XE 17.12 shape).

Paths follow Cisco-IOS-XE-eem 2022-11-01 and Cisco-IOS-XE-crypto 2023-07-01: events and actions
use the ``*-choice`` / ``*-option`` containers (the older twins are deprecated since 17.6) and the
trustpoint uses ``enrollment/enrollment-method/terminal`` (17.9 and later).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from lxml import etree

from models.actions import Action
from models.applet import Applet
from models.eem import MailServer
from models.events import Event
from models.intent import Intent
from models.pki import Trustpoint
from payloads import namespaces as ns
from payloads.cli import is_modelled
from payloads.objects import ObjectKey
from payloads.releases import DEFAULT_PROFILE, ReleaseProfile

Operation = Literal["merge", "replace", "create", "delete", "remove"]


def _sub(parent: etree._Element, tag: str, text: str | int | None = None, namespace: str | None = None) -> etree._Element:
    qualified = f"{{{namespace or etree.QName(parent).namespace}}}{tag}"
    child = etree.SubElement(parent, qualified, nsmap={None: namespace} if namespace else None)
    if text is not None:
        child.text = str(text)
    return child


def _set_operation(element: etree._Element, operation: Operation | None) -> None:
    if operation is not None:
        element.set(f"{{{ns.NETCONF_BASE}}}operation", operation)


def environment_element(
    parent: etree._Element, name: str, value: str | MailServer | None, *, reveal: bool, operation: Operation | None = None
) -> etree._Element:
    """Append ``environment[name]`` to an eem ``manager`` element; ``value=None`` writes only the key."""
    entry = _sub(parent, "environment")
    _set_operation(entry, operation)
    _sub(entry, "name", name)
    if value is not None:
        _sub(entry, "value", value.server_string(reveal=reveal) if isinstance(value, MailServer) else value)
    return entry


def _timer_leaf(name: str, profile: ReleaseProfile) -> str:
    # From 17.13 the uint32 seconds leaves are deprecated in favour of decimal64 `*-set` twins.
    return f"{name}-set" if profile.decimal_timers else name


def _timing(case: etree._Element, maxrun: int | None, ratelimit: int | None, profile: ReleaseProfile) -> None:
    if maxrun is not None:
        _sub(case, _timer_leaf("maxrun", profile), maxrun)
    if ratelimit is not None:
        _sub(case, _timer_leaf("ratelimit", profile), ratelimit)


def _event_element(parent: etree._Element, event: Event, profile: ReleaseProfile) -> None:
    if not profile.models_event(event.kind):
        return  # Sent as a CLI line through config-ios-cli-rpc instead.
    container = _sub(parent, "event")
    if event.none is not None:
        case = _sub(container, "none-choice")
        _timing(case, event.none.maxrun, event.none.ratelimit, profile)
    elif event.syslog is not None:
        case = _sub(container, "syslog-choice")
        _sub(case, "pattern", event.syslog.pattern)
        if event.syslog.occurs is not None:
            _sub(case, "occurs", event.syslog.occurs)
        if event.syslog.period is not None:
            _sub(case, _timer_leaf("period", profile), event.syslog.period)
        _timing(case, event.syslog.maxrun, event.syslog.ratelimit, profile)
    elif event.track is not None:
        case = _sub(container, "track-choice")
        _sub(case, "track-object-number", event.track.object)
        _sub(case, "state", event.track.state)
        _timing(case, event.track.maxrun, event.track.ratelimit, profile)
    elif event.timer is not None:
        kind = event.timer.kind
        timer = getattr(event.timer, kind)
        case = _sub(_sub(container, "timer-choice"), kind)
        if kind == "cron":
            _sub(case, "cron-entry", timer.entry)
        else:
            _sub(case, _timer_leaf("time", profile), timer.time)
        if timer.name is not None:
            _sub(case, "name", timer.name)
        _timing(case, timer.maxrun, timer.ratelimit, profile)
    elif event.ipsla is not None:
        case = _sub(container, "ipsla")
        _sub(case, "group-name", event.ipsla.group)
        _sub(case, "reaction-type", event.ipsla.reaction)
        _timing(case, event.ipsla.maxrun, event.ipsla.ratelimit, profile)
    elif event.routing is not None:
        case = _sub(container, "routing")
        _sub(case, "network", event.routing.network)
        _sub(case, "type", event.routing.type)
        _timing(case, event.routing.maxrun, event.routing.ratelimit, profile)
    elif event.cli is not None:
        case = _sub(container, "cli")
        _sub(case, "pattern", event.cli.pattern)
        _sub(case, "sync", event.cli.sync)
        if event.cli.skip is not None:
            _sub(case, "skip", event.cli.skip)


def _action_element(parent: etree._Element, action: Action) -> None:
    entry = _sub(parent, "action")
    _sub(entry, "name", action.label)
    if action.cli is not None:
        _sub(_sub(entry, "cli-choice"), "command", action.cli.command)
    elif action.syslog is not None:
        option = _sub(entry, "syslog-option")
        if action.syslog.facility is not None:
            _sub(option, "facility", action.syslog.facility)
        _sub(option, "msg", action.syslog.msg)
        if action.syslog.priority is not None:
            _sub(option, "priority", action.syslog.priority)
    elif action.regexp is not None:
        option = _sub(entry, "regexp-option")
        _sub(option, "string-pattern", action.regexp.pattern)
        _sub(option, "string-input", action.regexp.input)
        if action.regexp.match is not None:
            _sub(option, "string-match", action.regexp.match)
        for number, name in enumerate(action.regexp.submatches, start=1):
            _sub(option, f"string-submatch{number}", name)
    elif action.if_ is not None:
        condition = _sub(entry, "if")
        _sub(condition, "string-op-1", action.if_.left)
        _sub(condition, "keyword", action.if_.op)
        _sub(condition, "string-op-2", action.if_.right)
        if action.if_.goto is not None:
            _sub(condition, "goto", action.if_.goto)
    elif action.wait is not None:
        _sub(entry, "wait", action.wait.seconds)
    elif action.snmp_trap is not None:
        trap = _sub(entry, "snmp-trap")
        for leaf in ("intdata1", "intdata2", "strdata"):
            if (value := getattr(action.snmp_trap, leaf)) is not None:
                _sub(trap, leaf, value)
    elif action.string_trim is not None:
        _sub(_sub(entry, "string"), "trim", action.string_trim.input)
    elif action.kind in ("end", "exit", "reload", "else", "break", "continue"):
        _sub(entry, action.kind)
    else:
        _verb_element(entry, action)


def _verb_element(entry: etree._Element, action: Action) -> None:
    """Append the action verbs that Cisco-IOS-XE-eem models from IOS XE 17.15 (under action-config)."""
    if action.set is not None or action.append is not None:
        assignment = action.set or action.append
        assert assignment is not None
        container = _sub(entry, action.kind)
        _sub(container, "varname", assignment.name)
        _sub(container, "value", assignment.value)
    elif action.increment is not None or action.decrement is not None:
        counter = action.increment or action.decrement
        assert counter is not None
        container = _sub(entry, action.kind)
        _sub(container, "varname", counter.name)
        if counter.by is not None:
            _sub(container, "value", counter.by)
    elif action.elseif is not None or action.while_ is not None:
        test = action.elseif or action.while_
        assert test is not None
        container = _sub(entry, action.kind)
        _sub(container, "operand1", test.left)
        _sub(container, "operation", test.op)
        _sub(container, "operand2", test.right)
    elif action.foreach is not None:
        container = _sub(entry, "foreach")
        _sub(container, "loopvar", action.foreach.name)
        _sub(container, "iterator", action.foreach.iterator)
        if action.foreach.delimiter is not None:
            _sub(container, "delimiter", action.foreach.delimiter)
    elif action.puts is not None:
        _sub(entry, "puts", action.puts.text)
    elif action.gets is not None:
        _sub(entry, "gets", action.gets.name)
    elif action.context_save is not None:
        save = _sub(_sub(entry, "context"), "save")
        _sub(save, "key", action.context_save.key)
        _sub(save, "variable", action.context_save.variable)
    elif action.context_retrieve is not None:
        retrieve = _sub(_sub(entry, "context"), "retrieve")
        _sub(retrieve, "key", action.context_retrieve.key)
        if action.context_retrieve.variable is not None:
            _sub(retrieve, "variable", action.context_retrieve.variable)
    else:
        raise ValueError(f"action kind {action.kind} has no YANG rendering for this release")


def applet_element(
    parent: etree._Element,
    applet: Applet | None,
    name: str,
    *,
    operation: Operation | None = None,
    profile: ReleaseProfile = DEFAULT_PROFILE,
) -> etree._Element:
    """Append ``applet[name]`` with its event and modelled actions; ``applet=None`` writes only the key."""
    entry = _sub(parent, "applet")
    _set_operation(entry, operation)
    _sub(entry, "name", name)
    if applet is None:
        return entry
    if applet.authorization is not None:
        _sub(entry, "authorization", applet.authorization)
    if applet.class_ is not None:
        _sub(entry, "class", applet.class_)
    if applet.trap:
        _sub(entry, "trap")
    if applet.description is not None:
        _sub(entry, "description", applet.description)
    if applet.event is not None:
        _event_element(entry, applet.event, profile)
    # From 17.15 the action list is applet/action-config/action and no longer ordered-by user;
    # EEM runs actions in label order either way.
    modelled = [action for action in applet.actions if is_modelled(action, profile)]
    actions_parent = _sub(entry, "action-config") if profile.action_config and modelled else entry
    for action in modelled:
        # The mail action (and kinds the release lacks) follow through config-ios-cli-rpc.
        _action_element(actions_parent, action)
    return entry


def trustpoint_element(
    parent: etree._Element, trustpoint: Trustpoint | None, name: str, *, operation: Operation | None = None
) -> etree._Element:
    """Append ``trustpoint[id]`` with its settings; ``trustpoint=None`` writes only the key."""
    entry = _sub(parent, "trustpoint")
    _set_operation(entry, operation)
    _sub(entry, "id", name)
    if trustpoint is None:
        return entry
    if trustpoint.chain_validation == "stop":
        _sub(_sub(entry, "chain-validation"), "stop")
    _sub(_sub(_sub(entry, "enrollment"), "enrollment-method"), "terminal")
    for method in trustpoint.revocation_check:
        _sub(entry, "revocation-check", method)
    return entry


class NativeBuilder:
    """Builds one ``<config>`` (or ``<filter>``) element, creating the native containers on first use."""

    def __init__(self, root_tag: str = "config") -> None:
        self.root = etree.Element(f"{{{ns.NETCONF_BASE}}}{root_tag}", nsmap={None: ns.NETCONF_BASE})
        self._native: etree._Element | None = None
        self._manager: etree._Element | None = None
        self._pki: etree._Element | None = None

    @property
    def native(self) -> etree._Element:
        """The ``native`` container."""
        if self._native is None:
            self._native = _sub(self.root, "native", namespace=ns.NATIVE)
        return self._native

    @property
    def manager(self) -> etree._Element:
        """The eem ``event/manager`` container."""
        if self._manager is None:
            self._manager = _sub(_sub(self.native, "event"), "manager", namespace=ns.EEM)
        return self._manager

    @property
    def pki(self) -> etree._Element:
        """The crypto ``crypto/pki`` container."""
        if self._pki is None:
            self._pki = _sub(_sub(self.native, "crypto"), "pki", namespace=ns.CRYPTO)
        return self._pki


def render_config(intent: Intent, profile: ReleaseProfile = DEFAULT_PROFILE, *, reveal: bool = False) -> etree._Element:
    """Render the whole intent as one ``<config>`` element (merge semantics).

    Args:
        reveal: write the SMTP password into the server variable. Only the engine sets this,
            for the payload it sends; anything shown to people keeps it masked.
    """
    items = [(key, value, None) for key, value in owned_objects(intent).items()]
    return render_edit(items, profile, reveal=reveal)


def owned_objects(intent: Intent) -> dict[ObjectKey, str | MailServer | Applet | Trustpoint]:
    """Return every object the intent owns, keyed by object, in the order they are rendered."""
    objects: dict[ObjectKey, str | MailServer | Applet | Trustpoint] = {}
    for name, value in intent.environment.items():
        objects[ObjectKey("environment", name)] = value
    for applet in intent.applets:
        objects[ObjectKey("applet", applet.name)] = applet
    for trustpoint in intent.trustpoints:
        objects[ObjectKey("trustpoint", trustpoint.name)] = trustpoint
    return objects


def render_edit(
    items: Iterable[tuple[ObjectKey, str | MailServer | Applet | Trustpoint | None, Operation | None]],
    profile: ReleaseProfile = DEFAULT_PROFILE,
    *,
    reveal: bool = False,
) -> etree._Element:
    """Render chosen objects, each with its own NETCONF operation, into one ``<config>`` element.

    A value of ``None`` writes only the list key, which is what ``delete`` and ``remove`` need.
    """
    builder = NativeBuilder()
    for key, value, operation in items:
        if key.kind == "environment":
            assert value is None or isinstance(value, (str, MailServer))
            environment_element(builder.manager, key.name, value, reveal=reveal, operation=operation)
        elif key.kind == "applet":
            assert value is None or isinstance(value, Applet)
            applet_element(builder.manager, value, key.name, operation=operation, profile=profile)
        else:
            assert value is None or isinstance(value, Trustpoint)
            trustpoint_element(builder.pki, value, key.name, operation=operation)
    return builder.root


def to_text(element: etree._Element) -> str:
    """Serialise an element as indented XML text."""
    return etree.tostring(element, pretty_print=True, encoding="unicode")
