"""NETCONF RPC dispatch of the lab device: parse an ``<rpc>``, run its handler, build the
``<rpc-reply>`` and record the RPC in the RPC log."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab import clirpc, datastore, filtering, operational
from provisioner.lab.device import DATASTORES, DeviceState
from provisioner.lab.errors import RpcError, unknown_element

logger = logging.getLogger(__name__)

_NC = f"{{{ns.NETCONF_BASE}}}"
_WITH_DEFAULTS = "{urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults}with-defaults"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


@dataclass
class RpcOutcome:
    """The serialised reply and what the session must do after sending it."""

    reply: bytes
    close_session: bool = False
    operation: str = ""


@dataclass
class _Call:
    """One RPC in progress: who sent it and what the RPC log will record."""

    state: DeviceState
    session_id: int
    target: str | None = None
    source: str | None = None
    close_session: bool = False
    error_tag: str | None = None
    ok: bool = True
    extra: dict[str, str] = field(default_factory=dict)


Handler = Callable[[_Call, etree._Element], list[etree._Element] | None]


def _elements(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _check_children(op: etree._Element, allowed: set[str]) -> None:
    for child in _elements(op):
        if child.tag not in allowed:
            name = etree.QName(child).localname
            namespace = etree.QName(child).namespace
            op_name = etree.QName(op).localname
            raise unknown_element(
                name, f"/rpc/{op_name}/{name}",
                f"element {name} (namespace {namespace}) is not a parameter of {op_name}",
                error_type="protocol",
            )


def _datastore(call: _Call, op: etree._Element, parameter: str,
               allowed: tuple[str, ...] = DATASTORES) -> str:
    holder = op.find(_NC + parameter)
    op_name = etree.QName(op).localname
    if holder is None or not _elements(holder):
        raise RpcError("protocol", "missing-element", f"{op_name} needs a <{parameter}>",
                       f"/rpc/{op_name}", [("bad-element", parameter)])
    choice = _elements(holder)[0]
    name = etree.QName(choice).localname
    name = str(name)
    if choice.tag != _NC + name or name not in allowed:
        raise RpcError("protocol", "invalid-value",
                       f"{parameter} {name!r} is not supported; use one of {', '.join(allowed)}",
                       f"/rpc/{op_name}/{parameter}", [("bad-element", name)])
    if name == "candidate" and not call.state.candidate_enabled:
        raise RpcError("protocol", "invalid-value",
                       "this device has no candidate datastore", f"/rpc/{op_name}/{parameter}",
                       [("bad-element", name)])
    if parameter == "target":
        call.target = name
    else:
        call.source = name
    return name


# Base protocol operations (RFC 6241)


def _get_config(call: _Call, op: etree._Element) -> list[etree._Element]:
    _check_children(op, {_NC + "source", _NC + "filter", _WITH_DEFAULTS})
    source = _datastore(call, op, "source")
    return [filtering.apply_filter(call.state.visible(source), op.find(_NC + "filter"),
                                   call.state.schema)]


def _get(call: _Call, op: etree._Element) -> list[etree._Element]:
    _check_children(op, {_NC + "filter", _WITH_DEFAULTS})
    data = datastore.copy_datastore(call.state.visible("running"))
    data.append(operational.yang_library(call.state.release))
    data.append(operational.pki_oper(call.state))
    return [filtering.apply_filter(data, op.find(_NC + "filter"), call.state.schema)]


def _config_element(op: etree._Element) -> etree._Element:
    for child in _elements(op):
        name = etree.QName(child).localname
        if name == "config" and child.tag != _NC + "config":
            # IOS XE 17.x rejects a <config> outside the NETCONF base namespace.
            raise unknown_element(
                "config", f"/rpc/{etree.QName(op).localname}/config",
                f"element config in namespace {etree.QName(child).namespace} is unknown; "
                f"<config> must be in {ns.NETCONF_BASE}", error_type="protocol",
            )
    config = op.find(_NC + "config")
    if config is None:
        if op.find(_NC + "url") is not None:
            raise RpcError("protocol", "operation-not-supported",
                           "<url> is not supported (no :url capability)")
        raise RpcError("protocol", "missing-element",
                       f"{etree.QName(op).localname} needs a <config>", None,
                       [("bad-element", "config")])
    return config


def _choice_text(op: etree._Element, name: str, allowed: tuple[str, ...], default: str) -> str:
    element = op.find(_NC + name)
    if element is None:
        return default
    value = (element.text or "").strip()
    if value not in allowed:
        raise RpcError("protocol", "invalid-value",
                       f"{name} {value!r} is invalid; use one of {', '.join(allowed)}",
                       f"/rpc/{etree.QName(op).localname}/{name}", [("bad-element", name)])
    return value


def _edit_config(call: _Call, op: etree._Element) -> None:
    config = _config_element(op)
    _check_children(op, {_NC + name for name in (
        "target", "default-operation", "test-option", "error-option", "config")})
    state = call.state
    target = _datastore(call, op, "target")
    default_operation = _choice_text(op, "default-operation", datastore.DEFAULT_OPERATIONS,
                                     "merge")
    test_option = _choice_text(op, "test-option", ("test-then-set", "set", "test-only"),
                               "test-then-set")
    # Every error option leaves the target unchanged: the edit runs on a copy that is only
    # kept when it succeeded completely.
    # NOTE: continue-on-error therefore behaves like rollback-on-error here.
    _choice_text(op, "error-option", ("stop-on-error", "continue-on-error", "rollback-on-error"),
                 "stop-on-error")
    state.check_writable(target, call.session_id)

    current = state.running if target == "running" else state.candidate
    work = datastore.copy_datastore(current)
    result = datastore.apply_edit(work, config, state.schema, default_operation)
    if test_option != "set":
        state.validate(work)
    if test_option == "test-only":
        return
    if target == "candidate":
        state.candidate = work
        state.pending_reset_applets |= result.reset_applets
    else:
        state.set_running(work, result.reset_applets)
    return


def _validate(call: _Call, op: etree._Element) -> None:
    _check_children(op, {_NC + "source"})
    holder = op.find(_NC + "source")
    inline = holder.find(_NC + "config") if holder is not None else None
    if inline is not None:
        work = datastore.new_datastore()
        datastore.apply_edit(work, inline, call.state.schema)
        call.state.validate(work)
        return
    source = _datastore(call, op, "source")
    call.state.validate(call.state.running if source == "running" else call.state.candidate)
    return


def _lock(call: _Call, op: etree._Element) -> None:
    _check_children(op, {_NC + "target"})
    state = call.state
    target = _datastore(call, op, "target")
    holder = state.locks.get(target)
    if holder is not None:
        raise RpcError("protocol", "lock-denied",
                       f"the {target} datastore is already locked by session {holder}",
                       None, [("session-id", str(holder))])
    if target == "candidate" and state.candidate_dirty():
        # RFC 6241 section 7.5: no candidate lock while it holds uncommitted changes.
        raise RpcError("protocol", "lock-denied",
                       "the candidate datastore has uncommitted changes; "
                       "send discard-changes or commit first", None, [("session-id", "0")])
    state.locks[target] = call.session_id


def _unlock(call: _Call, op: etree._Element) -> None:
    _check_children(op, {_NC + "target"})
    state = call.state
    target = _datastore(call, op, "target")
    holder = state.locks.get(target)
    if holder != call.session_id:
        owner = "no session" if holder is None else f"session {holder}"
        raise RpcError("protocol", "operation-failed",
                       f"the {target} datastore is not locked by this session (held by {owner})",
                       None, [("session-id", str(holder or 0))])
    del state.locks[target]


def _commit(call: _Call, op: etree._Element) -> None:
    # Without :confirmed-commit (no IOS XE release has it) <confirmed/> and its companions
    # are unknown elements.
    _check_children(op, set())
    state = call.state
    if not state.candidate_enabled:
        raise RpcError("protocol", "operation-not-supported",
                       "commit needs the candidate datastore, which this device does not have")
    call.target = "running"
    call.source = "candidate"
    state.check_writable("running", call.session_id)
    state.check_writable("candidate", call.session_id)
    state.validate(state.candidate)
    new_running = datastore.copy_datastore(state.candidate)
    state.set_running(new_running, set(state.pending_reset_applets))
    state.discard_candidate()


def _discard_changes(call: _Call, op: etree._Element) -> None:
    _check_children(op, set())
    state = call.state
    if not state.candidate_enabled:
        raise RpcError("protocol", "operation-not-supported",
                       "discard-changes needs the candidate datastore")
    call.target = "candidate"
    state.check_writable("candidate", call.session_id)
    state.discard_candidate()


def _close_session(call: _Call, op: etree._Element) -> None:
    _check_children(op, set())
    call.close_session = True


def _kill_session(call: _Call, op: etree._Element) -> None:
    _check_children(op, {_NC + "session-id"})
    text = (op.findtext(_NC + "session-id") or "").strip()
    if not text.isdigit():
        raise RpcError("protocol", "missing-element" if not text else "invalid-value",
                       "kill-session needs a numeric <session-id>", None,
                       [("bad-element", "session-id")])
    victim = int(text)
    if victim == call.session_id:
        raise RpcError("protocol", "invalid-value",
                       "kill-session cannot end the requesting session; use close-session",
                       None, [("bad-element", "session-id")])
    kill = call.state.sessions.get(victim)
    if kill is None:
        raise RpcError("protocol", "invalid-value", f"no session with id {victim}",
                       None, [("bad-element", "session-id")])
    call.state.close_session(victim)
    kill()


# Other modules


def _get_schema(call: _Call, op: etree._Element) -> list[etree._Element]:
    return [operational.get_schema(call.state.yang_dir, op)]


def _cisco_ia_result(text: str) -> list[etree._Element]:
    result = etree.Element(f"{{{ns.CISCO_IA}}}result", nsmap={None: ns.CISCO_IA})
    result.text = text
    return [result]


def _is_syncing(call: _Call, op: etree._Element) -> list[etree._Element]:
    syncing = call.state.is_syncing()
    return _cisco_ia_result("Sync in progress" if syncing else "No sync in progress")


def _sync_from(call: _Call, op: etree._Element) -> list[etree._Element]:
    call.state.start_sync()
    # NOTE: the result text of sync-from on a real device is unverified.
    return _cisco_ia_result("Sync in progress")


def _save_config(call: _Call, op: etree._Element) -> list[etree._Element]:
    call.state.save_startup()
    return _cisco_ia_result("Save running-config successful")


def _config_ios_cli_rpc(call: _Call, op: etree._Element) -> list[etree._Element]:
    cli = f"{{{ns.CLI_RPC}}}"
    _check_children(op, {cli + "config-clis", cli + "timeout", cli + "error-patterns"})
    text_element = op.find(cli + "config-clis")
    if text_element is None:
        raise RpcError("protocol", "missing-element", "config-ios-cli-rpc needs <config-clis>",
                       None, [("bad-element", "config-clis")])
    text = text_element.text or ""
    if not 1 <= len(text) <= 60000:
        raise RpcError("application", "invalid-value",
                       f"config-clis must be 1 to 60000 characters long, got {len(text)}",
                       "/config-ios-cli-rpc/config-clis")
    timeout = op.findtext(cli + "timeout")
    if timeout is not None and not (timeout.strip().isdigit()
                                    and 10 <= int(timeout) <= 1800):
        raise RpcError("application", "invalid-value",
                       "timeout must be 10 to 1800 seconds", "/config-ios-cli-rpc/timeout")
    patterns = [
        (pattern.findtext(cli + "error-tag") or "", pattern.findtext(cli + "error-pattern") or "")
        for pattern in op.findall(cli + "error-patterns")
    ]
    if len(patterns) > 10:
        raise RpcError("application", "invalid-value",
                       "at most 10 error-patterns are allowed", "/config-ios-cli-rpc/error-patterns")

    outcome = _run_cli(call.state, text, patterns)
    reply = []
    for name, value in (("result", outcome.result), ("lineno", outcome.lineno),
                        ("error-code", -1 if outcome.lineno is not None else None),
                        ("error-string", outcome.error_string),
                        ("error-tag", outcome.error_tag)):
        if value is None:
            continue
        element = etree.Element(cli + name, nsmap={None: ns.CLI_RPC})
        element.text = str(value)
        reply.append(element)
    if not outcome.ok:
        call.ok = False
        call.error_tag = outcome.error_tag
    return reply


def _run_cli(state: DeviceState, text: str,
             patterns: list[tuple[str, str]]) -> clirpc.CliResult:
    """Run the CLI text, or with ``faults.fail_cli_line`` only the lines before that one and
    then fail at it, keeping what was applied, as IOS XE does at a bad line."""
    fail_at = state.faults.fail_cli_line
    lines = text.split("\n")
    if fail_at is None or fail_at > len(lines):
        return clirpc.run_cli(state, text, patterns)
    if fail_at > 1:
        head = clirpc.run_cli(state, "\n".join(lines[:fail_at - 1]), patterns)
        if not head.ok:
            return head
    bad = lines[fail_at - 1]
    return clirpc.CliResult(f"{bad}\n^\n{clirpc.INVALID_INPUT}\n", fail_at, clirpc.INVALID_INPUT,
                            "operation-failed")


HANDLERS: dict[str, Handler] = {
    _NC + "get-config": _get_config,
    _NC + "get": _get,
    _NC + "edit-config": _edit_config,
    _NC + "validate": _validate,
    _NC + "lock": _lock,
    _NC + "unlock": _unlock,
    _NC + "commit": _commit,
    _NC + "discard-changes": _discard_changes,
    _NC + "close-session": _close_session,
    _NC + "kill-session": _kill_session,
    f"{{{ns.NETCONF_MONITORING}}}get-schema": _get_schema,
    f"{{{ns.CISCO_IA}}}is-syncing": _is_syncing,
    f"{{{ns.CISCO_IA}}}sync-from": _sync_from,
    f"{{{ns.CISCO_IA}}}save-config": _save_config,
    f"{{{ns.CLI_RPC}}}config-ios-cli-rpc": _config_ios_cli_rpc,
}


def _reply(rpc: etree._Element | None, body: list[etree._Element] | None,
           error: RpcError | None) -> bytes:
    reply = etree.Element(_NC + "rpc-reply", nsmap={None: ns.NETCONF_BASE})
    if rpc is not None:
        # RFC 6241 section 4.2: the reply carries every attribute of the <rpc>.
        for name, value in rpc.attrib.items():
            reply.set(name, value)
    if error is not None:
        reply.append(error.to_element())
    elif body:
        for element in body:
            reply.append(element)
    else:
        etree.SubElement(reply, _NC + "ok")
    return bytes(etree.tostring(reply, xml_declaration=True, encoding="UTF-8"))


def handle_rpc(state: DeviceState, session_id: int, message: bytes,
               request: str | None = None) -> RpcOutcome:
    """Run one NETCONF message received on a session and return the reply to send.

    Args:
        state: The device; this function takes ``state.lock``.
        session_id: The sending session.
        message: One complete XML message, framing removed.
        request: The RESTCONF request (method and path) this RPC stands for, for the RPC log;
            None for NETCONF.
    """
    with state.lock:
        return _handle(state, session_id, message, request)


def _handle(state: DeviceState, session_id: int, message: bytes,
            request: str | None = None) -> RpcOutcome:
    call = _Call(state, session_id)
    try:
        rpc = etree.fromstring(message, _PARSER)
    except etree.XMLSyntaxError as syntax_error:
        logger.info("device %s session %d sent malformed XML", state.name, session_id)
        reply = _reply(None, None, RpcError("rpc", "malformed-message",
                                            f"the message is not well-formed XML: {syntax_error}"))
        state.rpc_log.append(session_id, None, "malformed-message", False, "malformed-message")
        return RpcOutcome(reply)

    message_id = rpc.get("message-id")
    operation = "unknown"
    error: RpcError | None = None
    body: list[etree._Element] | None = None
    try:
        if rpc.tag != _NC + "rpc":
            operation = etree.QName(rpc).localname
            raise unknown_element(operation, None,
                                  f"expected <rpc> in {ns.NETCONF_BASE}, got {rpc.tag}",
                                  error_type="rpc")
        if message_id is None:
            raise RpcError("rpc", "missing-attribute", "<rpc> lacks its message-id attribute",
                           None, [("bad-attribute", "message-id"), ("bad-element", "rpc")])
        operations = _elements(rpc)
        if len(operations) != 1:
            raise RpcError("rpc", "malformed-message",
                           f"<rpc> must contain exactly one operation, found {len(operations)}")
        op = operations[0]
        operation = etree.QName(op).localname
        handler = HANDLERS.get(op.tag)
        if handler is None:
            raise RpcError("protocol", "operation-not-supported",
                           f"operation {operation} ({etree.QName(op).namespace}) is not "
                           "supported by this device")
        injected = state.faults.fail_operations.get(operation)
        if injected:
            raise RpcError("application", injected,
                           f"{operation} failed (fault injected by the lab device)")
        body = handler(call, op)
    except RpcError as raised:
        error = raised
        call.ok = False
        call.error_tag = raised.error_tag
        logger.info("device %s session %d %s failed: %s", state.name, session_id, operation,
                    raised.error_tag)
    except (ValueError, TypeError) as raised:
        # A bad mutate_after_commit XPath surfaces here; the device must keep serving.
        error = RpcError("application", "operation-failed", str(raised))
        call.ok = False
        call.error_tag = error.error_tag
        logger.warning("device %s session %d %s failed: %s", state.name, session_id,
                       operation, raised)

    state.rpc_log.append(session_id, message_id, operation, call.ok, call.error_tag,
                         target=call.target, source=call.source,
                         transport="restconf" if request is not None else None, request=request)
    return RpcOutcome(_reply(rpc, body, error), call.close_session and error is None, operation)
