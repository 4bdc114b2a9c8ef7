"""The ``certs`` command group: inspect certificate files, read a server's chain, diagnose device logs.

Exit codes: 0 nothing to do; 2 findings that need action (e.g. a certificate expiring within the
warning window, or a device log showing a missing issuer); 1 an error (unreadable input, a server
that cannot be reached, or an error finding from ``inspect`` or ``fetch`` such as an expired
certificate).
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from cryptography import x509
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from models.certificate import DEFAULT_WARN_DAYS
from models.errors import ProvisionerError
from provisioner.certs.chain import (
    AnalysedCertificate,
    ChainAnalysis,
    Finding,
    analyse_chain,
    load_anchor_file,
    load_default_anchors,
    trustpoint_certificates,
    trustpoint_name_for,
)
from provisioner.certs.diagnose import Diagnosis, diagnose_log
from provisioner.certs.fetch import DEFAULT_PORT, DEFAULT_TIMEOUT, fetch_chain
from provisioner.certs.inspect import Inspection, facts_lines, inspect_file

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FINDINGS = 2

_warn_days_option = click.option(
    "--warn-days",
    type=click.IntRange(min=0),
    default=DEFAULT_WARN_DAYS,
    show_default=True,
    help="Warn about certificates that end within this many days.",
)
_output_option = click.option(
    "--output",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text for people, json for scripts.",
)
_anchors_option = click.option(
    "--anchors",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="PEM file of trusted CA certificates. Default: certifi's bundle (Mozilla's root store).",
)


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def _exit_code(findings: Sequence[Finding], *, error_is_failure: bool = True) -> int:
    severities = {finding.severity for finding in findings}
    if "error" in severities:
        return EXIT_ERROR if error_is_failure else EXIT_FINDINGS
    return EXIT_FINDINGS if "warning" in severities else EXIT_OK


def _finding_lines(findings: Sequence[Finding], indent: str = "  ") -> list[str]:
    return [f"{indent}{finding.severity}: {finding.message}" for finding in findings]


def _finding_json(finding: Finding) -> dict[str, str]:
    return {
        "severity": finding.severity,
        "code": finding.code,
        "subject": finding.subject,
        "message": finding.message,
    }


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "certificate"


def _trustpoint_yaml(entries: Sequence[tuple[str, str]], comment: str | None = None) -> str:
    """Render ``trustpoints:`` entries as the intent file spells them."""
    items = CommentedSeq()
    for name, certificate in entries:
        entry = CommentedMap()
        entry["name"] = name
        entry["enrollment"] = "terminal"
        methods = CommentedSeq(["none"])
        methods.fa.set_flow_style()
        entry["revocation_check"] = methods
        entry["chain_validation"] = "stop"
        entry["certificate"] = certificate
        items.append(entry)
    document = CommentedMap()
    document["trustpoints"] = items
    if comment:
        document.yaml_set_start_comment(comment)
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return stream.getvalue()


def _write_pem(directory: Path, name: str, node: AnalysedCertificate) -> Path:
    path = directory / f"{name}.pem"
    path.write_text(node.pem, encoding="ascii")
    return path


def _load_anchors(anchors: Path | None) -> list[x509.Certificate]:
    return load_anchor_file(anchors) if anchors is not None else load_default_anchors()


@click.group("certs", context_settings={"help_option_names": ["-h", "--help"]})
def certs() -> None:
    """CA certificates for trustpoints: inspect files, read an SMTP server's chain, diagnose device logs."""


@certs.command("inspect")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@_warn_days_option
@click.option(
    "--allow-non-ca",
    is_flag=True,
    help="Report a leaf (non-CA) certificate as a warning instead of an error.",
)
@_output_option
def inspect_command(file: Path, warn_days: int, allow_non_ca: bool, output_format: str) -> None:
    """Show each certificate in FILE (PEM or DER) with serial and fingerprints in IOS XE form.

    Exit 0 when every certificate is a valid CA certificate, 2 when one expires within the warning
    window (or is a leaf with --allow-non-ca), 1 on an error (not a CA, expired, unreadable).
    """
    try:
        inspection = inspect_file(file, allow_non_ca=allow_non_ca, warn_days=warn_days)
    except ProvisionerError as error:
        _fail(str(error))

    if output_format == "json":
        click.echo(json.dumps(_inspection_json(inspection), indent=2))
    else:
        _print_inspection(inspection)
    sys.exit(_exit_code(inspection.all_findings))


def _print_inspection(inspection: Inspection) -> None:
    count = len(inspection.certificates)
    for index, item in enumerate(inspection.certificates, start=1):
        click.echo(f"Certificate {index} of {count} in {inspection.path}")
        for line in facts_lines(item.facts):
            click.echo(f"  {line}")
        for line in _finding_lines(item.findings):
            click.echo(line)
        click.echo("")
    for line in _finding_lines(inspection.findings, indent=""):
        click.echo(line)


def _inspection_json(inspection: Inspection) -> dict[str, Any]:
    return {
        "file": str(inspection.path),
        "certificates": [
            {
                "facts": item.facts.model_dump(mode="json"),
                "findings": [_finding_json(f) for f in item.findings],
            }
            for item in inspection.certificates
        ],
        "findings": [_finding_json(f) for f in inspection.findings],
    }


def parse_server(value: str) -> tuple[str, int]:
    """Split ``HOST``, ``HOST:PORT``, ``[IPV6]:PORT`` or a bare IPv6 address into host and port.

    Raises:
        click.BadParameter: the port is not a number from 1 to 65535, or the host is empty.
    """
    host, port_text = value, ""
    bracketed = re.fullmatch(r"\[([^\]]+)\](?::(.*))?", value)
    if bracketed:
        host, port_text = bracketed.group(1), bracketed.group(2) or ""
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    if not host:
        raise click.BadParameter(f"{value!r} has no host name; use HOST or HOST:PORT")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise click.BadParameter(
            f"port {port_text!r} in {value!r} is invalid; use a number from 1 to 65535"
        )
    return host, int(port_text)


@certs.command("fetch")
@click.argument("server", metavar="HOST[:PORT]")
@click.option(
    "--starttls",
    type=click.Choice(["smtp", "none"]),
    default="smtp",
    show_default=True,
    help="smtp: EHLO and STARTTLS first (port 587); none: implicit TLS (port 465).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="Seconds to wait for the connection and for each reply.",
)
@click.option(
    "--server-name", help="Name sent in TLS SNI. Default: HOST, or none when HOST is an IP address."
)
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the PEM files. Default: certs/HOST.",
)
@_anchors_option
@click.option(
    "--intent",
    "intent_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Intent file whose trustpoints to check against the chain (unnecessary, leaf, expiring).",
)
@_warn_days_option
@_output_option
def fetch_command(
    server: str,
    starttls: str,
    timeout: float,
    server_name: str | None,
    out_dir: Path | None,
    anchors: Path | None,
    intent_path: Path | None,
    warn_days: int,
    output_format: str,
) -> None:
    """Read the chain an SMTP server presents and print the trustpoint intent that trusts it.

    The chain is retrieved without verification, then verified link by link against the anchors.
    Each certificate is written as PEM into the output folder. Exit 0 when the chain validates and
    nothing expires soon, 2 on warnings, 1 on an error or a chain that does not validate.
    """
    host, port = parse_server(server)
    try:
        trustpoints = []
        if intent_path is not None:
            from models.intent import load_intent

            trustpoints = trustpoint_certificates(
                load_intent(intent_path, resolve_secrets=False, read_certificates=False).trustpoints
            )
        anchor_certificates = _load_anchors(anchors)
        chain = fetch_chain(
            host,
            port,
            starttls="smtp" if starttls == "smtp" else "none",
            timeout=timeout,
            server_name=server_name,
        )
        analysis = analyse_chain(
            chain, anchor_certificates, trustpoints=trustpoints, warn_days=warn_days
        )
    except ProvisionerError as error:
        _fail(str(error))

    directory = out_dir if out_dir is not None else Path("certs") / _slug(host)
    try:
        written = _write_chain(directory, analysis)
    except OSError as error:
        _fail(f"cannot write the PEM files to {directory}: {error.strerror or error}")

    if output_format == "json":
        click.echo(json.dumps(_analysis_json(host, port, starttls, analysis, written), indent=2))
    else:
        _print_analysis(host, port, starttls, analysis, written)
    sys.exit(_exit_code(analysis.findings))


def _write_chain(directory: Path, analysis: ChainAnalysis) -> dict[int, Path]:
    """Write every presented certificate, and each recommended anchor that the server did not send.

    Returns:
        Paths by ``id()`` of the written AnalysedCertificate.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[int, Path] = {}
    for node in analysis.presented:
        written[id(node)] = _write_pem(
            directory, f"{node.position:02d}-{_slug(node.facts.label)}", node
        )
    for recommended in analysis.recommended:
        node = recommended.certificate
        if node.origin == "anchor":
            written[id(node)] = _write_pem(directory, f"anchor-{_slug(node.facts.label)}", node)
    return written


def _describe(node: AnalysedCertificate) -> str:
    if node.origin == "presented":
        return f"[{node.position}] {node.facts.label}"
    return f"{node.origin} {node.facts.label}"


def _print_analysis(
    host: str, port: int, starttls: str, analysis: ChainAnalysis, written: dict[int, Path]
) -> None:
    mode = "STARTTLS" if starttls == "smtp" else "implicit TLS"
    click.echo(
        f"Chain presented by {host}:{port} ({mode}), retrieved without verification and verified below:"
    )
    links = {id(link.certificate): link for link in analysis.links}
    for node in analysis.presented:
        facts = node.facts
        kind = "leaf" if node.position == 0 else "CA" if facts.is_ca else "not a CA"
        click.echo(f"  [{node.position}] {facts.subject_ios} ({kind})")
        click.echo(f"      issuer {facts.issuer_ios}")
        click.echo(
            f"      serial {facts.serial}, valid {facts.not_before:%Y-%m-%d} to {facts.not_after:%Y-%m-%d}"
        )
        click.echo(f"      SHA1 {facts.fingerprint_sha1}")
        link = links.get(id(node))
        if link is not None:
            target = _describe(link.issuer) if link.issuer is not None else "(not found)"
            click.echo(f"      signed by {target}: {link.status}")

    if analysis.anchor is not None:
        facts = analysis.anchor.facts
        click.echo(
            f"Anchor reached: {facts.subject_ios} (SHA1 {facts.fingerprint_sha1}, valid to {facts.not_after:%Y-%m-%d})"
        )
    for alternative in analysis.alternative_anchors:
        click.echo(
            f"Also reached: {alternative.facts.subject_ios} (valid to {alternative.facts.not_after:%Y-%m-%d})"
        )
    click.echo(f"Chain validates: {'yes' if analysis.validated else 'no'}")

    if analysis.trustpoints:
        click.echo("Intent trustpoints:")
        for check in analysis.trustpoints:
            held = check.certificate.facts.label if check.certificate is not None else "no certificate file"
            click.echo(f"  {check.name}: {check.role or 'not checked'} ({held})")
    if analysis.findings:
        click.echo("Findings:")
        for line in _finding_lines(analysis.findings):
            click.echo(line)

    if analysis.recommended:
        entries = [
            (
                recommended.name,
                str(written.get(id(recommended.certificate), "")) or "<PEM file of this CA>",
            )
            for recommended in analysis.recommended
        ]
        click.echo("")
        click.echo(
            "Trustpoint intent (certificate paths are relative to the current folder; an intent"
        )
        click.echo("resolves them relative to its own file):")
        click.echo(_trustpoint_yaml(entries), nl=False)
    click.echo("")
    click.echo("PEM files written:")
    for path in written.values():
        click.echo(f"  {path}")


def _node_json(node: AnalysedCertificate) -> dict[str, Any]:
    return {
        "origin": node.origin,
        "position": node.position,
        "facts": node.facts.model_dump(mode="json"),
    }


def _analysis_json(
    host: str, port: int, starttls: str, analysis: ChainAnalysis, written: dict[int, Path]
) -> dict[str, Any]:
    return {
        "server": {"host": host, "port": port, "starttls": starttls},
        "presented": [_node_json(node) for node in analysis.presented],
        "links": [
            {
                "certificate": _describe(link.certificate),
                "issuer": _describe(link.issuer) if link.issuer is not None else None,
                "status": link.status,
                "detail": link.detail,
            }
            for link in analysis.links
        ],
        "validated": analysis.validated,
        "anchor": _node_json(analysis.anchor) if analysis.anchor is not None else None,
        "alternative_anchors": [_node_json(node) for node in analysis.alternative_anchors],
        "recommended": [
            {
                "name": item.name,
                "certificate": str(written.get(id(item.certificate), "")) or None,
                "subject": item.certificate.facts.subject,
            }
            for item in analysis.recommended
        ],
        "trustpoints": [{"name": check.name, "role": check.role} for check in analysis.trustpoints],
        "findings": [_finding_json(f) for f in analysis.findings],
        "files": [str(path) for path in written.values()],
    }


@certs.command("diagnose")
@click.argument("logfile", type=click.Path(path_type=Path, dir_okay=False))
@_anchors_option
@click.option(
    "--out-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("certs"),
    show_default=True,
    help="Folder for the PEM file of the issuer to import, when the anchors have it.",
)
def diagnose_command(logfile: Path, anchors: Path | None, out_dir: Path) -> None:
    """Find the issuer certificates an IOS XE device lacked, from its debug output in LOGFILE.

    LOGFILE holds the output of `event manager run APPLET` after `debug crypto pki validation`,
    `debug crypto pki transactions`, `debug ssl openssl errors/msg` and `debug event manager
    action mail`. Exit 0 when the log shows no problem, 2 when it shows one (with the fix
    printed), 1 when the log cannot be read or has no such lines.
    """
    try:
        diagnosis = diagnose_log(logfile, anchors=_load_anchors(anchors))
    except ProvisionerError as error:
        _fail(str(error))

    click.echo(f"Log {logfile}: {len(diagnosis.attempts)} certificate chain validation(s) found.")
    for message in diagnosis.mail_errors:
        click.echo(f"  {message}")
    if diagnosis.missing_issuers:
        click.echo(
            "Issuer certificates the device looked up and found in no trustpoint (leaf's issuer first):"
        )
        for candidate in diagnosis.candidates:
            where = (
                "in the anchor set"
                if candidate.certificate is not None
                else "not in the anchor set"
            )
            click.echo(f"  {candidate.issuer} ({where})")
    if diagnosis.findings:
        click.echo("Findings:")
        for line in _finding_lines(diagnosis.findings):
            click.echo(line)

    recommended = diagnosis.recommended
    if recommended is not None:
        click.echo("")
        click.echo(_diagnosis_yaml(diagnosis, out_dir), nl=False)
    sys.exit(_exit_code(diagnosis.findings, error_is_failure=False))


def _diagnosis_yaml(diagnosis: Diagnosis, out_dir: Path) -> str:
    recommended = diagnosis.recommended
    assert recommended is not None
    if recommended.certificate is not None and recommended.facts is not None:
        name = trustpoint_name_for(recommended.facts.label)
        node = AnalysedCertificate(recommended.certificate, recommended.facts, "anchor")
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = _write_pem(out_dir, f"anchor-{_slug(recommended.facts.label)}", node)
        except OSError as error:
            _fail(f"cannot write the PEM file to {out_dir}: {error.strerror or error}")
        comment = (
            f"Trustpoint that fixes the chain validation; {path} was written from the anchor set."
        )
        return _trustpoint_yaml([(name, str(path))], comment)

    label = recommended.issuer.split(",", 1)[0].split("=", 1)[-1]
    name = trustpoint_name_for(label)
    server = diagnosis.servers[0] if diagnosis.servers else "HOST"
    comment = (
        f"The certificate of {recommended.issuer} is not in the anchor set: download it from the CA,\n"
        f"check its fingerprint, and save it under this path (or run `provisioner certs fetch {server}`)."
    )
    return _trustpoint_yaml([(name, str(out_dir / f"anchor-{_slug(label)}.pem"))], comment)
