"""fetch_chain and ``certs fetch`` against SMTP servers started on 127.0.0.1 by the tests themselves."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme
from aiosmtpd.handlers import Sink
from aiosmtpd.smtp import SMTP
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ruamel.yaml import YAML

from models.certificate import load_one_ca_certificate
from models.pki import Trustpoint
from provisioner.certs.chain import analyse_chain
from provisioner.certs.command import certs
from provisioner.certs.fetch import (
    ServerUnreachableError,
    StartTlsNotOfferedError,
    TlsHandshakeError,
    fetch_chain,
)

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"


class EventLoopThread:
    """An asyncio loop in a daemon thread, for servers the blocking client under test talks to."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[asyncio.Server] = []

    def serve(
        self, factory: Callable[[], asyncio.BaseProtocol], tls: ssl.SSLContext | None = None
    ) -> int:
        async def start() -> asyncio.Server:
            return await self.loop.create_server(factory, LOOPBACK, 0, ssl=tls)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)
        self.servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    def close(self) -> None:
        async def stop() -> None:
            for server in self.servers:
                server.close()
                await server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def loop_thread() -> Iterator[EventLoopThread]:
    runner = EventLoopThread()
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def pki() -> tuple[trustme.CA, trustme.CA, trustme.LeafCert]:
    """Root -> intermediate -> leaf for smtp.example.com; the leaf's chain PEMs hold leaf and intermediate."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("smtp.example.com", LOOPBACK, common_name="smtp.example.com")
    return root, intermediate, leaf


def server_context(leaf: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


def smtp_factory(tls: ssl.SSLContext | None) -> Callable[[], SMTP]:
    return lambda: SMTP(
        Sink(), hostname="smtp.example.com", tls_context=tls, require_starttls=False
    )


def root_certificate(root: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(root.cert_pem.bytes())


def test_fetch_starttls_returns_leaf_and_intermediate(
    loop_thread: EventLoopThread, pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert]
) -> None:
    root, _, leaf = pki
    port = loop_thread.serve(smtp_factory(server_context(leaf)))

    chain = fetch_chain(LOOPBACK, port, server_name="smtp.example.com", timeout=5)

    assert len(chain) == 2
    assert (
        chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "smtp.example.com"
    )
    assert chain[1].issuer == root_certificate(root).subject
    analysis = analyse_chain(chain, [root_certificate(root)])
    assert analysis.validated
    assert [link.status for link in analysis.links] == ["verified", "verified"]
    assert analysis.anchor is not None
    assert analysis.anchor.certificate == root_certificate(root)


def test_fetch_implicit_tls(
    loop_thread: EventLoopThread, pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert]
) -> None:
    _, _, leaf = pki
    port = loop_thread.serve(smtp_factory(None), tls=server_context(leaf))

    chain = fetch_chain(LOOPBACK, port, starttls="none", timeout=5)

    assert len(chain) == 2


def test_cli_fetch_writes_pems_and_intent(
    loop_thread: EventLoopThread,
    pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert],
    tmp_path: Path,
) -> None:
    root, _, leaf = pki
    port = loop_thread.serve(smtp_factory(server_context(leaf)))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(root.cert_pem.bytes())
    out_dir = tmp_path / "chain"

    result = CliRunner().invoke(
        certs,
        [
            "fetch",
            f"{LOOPBACK}:{port}",
            "--server-name",
            "smtp.example.com",
            "--anchors",
            str(anchors),
            "--out-dir",
            str(out_dir),
            "--timeout",
            "5",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "retrieved without verification" in result.output
    assert "Chain validates: yes" in result.output
    assert len(list(out_dir.glob("0*.pem"))) == 2
    yaml_text = result.output[
        result.output.index("trustpoints:") : result.output.index("PEM files written:")
    ]
    entries = YAML(typ="safe").load(yaml_text)["trustpoints"]
    trustpoint = Trustpoint.model_validate(entries[0])
    assert trustpoint.chain_validation == "stop"
    assert trustpoint.revocation_check == ["none"]
    assert trustpoint.certificate is not None
    loaded = load_one_ca_certificate(trustpoint.certificate)
    assert loaded.certificate == root_certificate(root)


def test_cli_fetch_checks_intent_trustpoints(
    loop_thread: EventLoopThread,
    pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert],
    tmp_path: Path,
) -> None:
    root, intermediate, leaf = pki
    port = loop_thread.serve(smtp_factory(server_context(leaf)))
    (tmp_path / "root.pem").write_bytes(root.cert_pem.bytes())
    (tmp_path / "intermediate.pem").write_bytes(intermediate.cert_pem.bytes())
    (tmp_path / "leaf.pem").write_bytes(leaf.cert_chain_pems[0].bytes())
    intent = tmp_path / "intent.yaml"
    intent.write_text(
        "trustpoints:\n"
        "  - name: CA-Root\n    certificate: root.pem\n"
        "  - name: CA-Issuing\n    certificate: intermediate.pem\n"
        "  - name: CA-smtp\n    certificate: leaf.pem\n"
        "  - name: CA-Other\n",
        encoding="utf-8",
    )

    result = CliRunner().invoke(
        certs,
        [
            "fetch",
            f"{LOOPBACK}:{port}",
            "--anchors",
            str(tmp_path / "root.pem"),
            "--intent",
            str(intent),
            "--out-dir",
            str(tmp_path / "chain"),
            "--timeout",
            "5",
        ],
    )

    assert result.exit_code == 2, result.output
    assert "CA-Root: anchor" in result.output
    assert "CA-Issuing: unnecessary" in result.output
    assert "CA-smtp: leaf" in result.output
    assert "CA-Other: not checked (no certificate file)" in result.output
    assert "((" not in result.output
    assert "- name: CA-Root" in result.output


def expired_intermediate_server(root: trustme.CA, tmp_path: Path) -> ssl.SSLContext:
    """A server context whose chain is leaf + an intermediate that expired on 2025-01-01."""
    root_key = serialization.load_pem_private_key(root.private_key_pem.bytes(), password=None)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    root_cert = root_certificate(root)
    now = datetime.now(UTC)

    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Expired Issuing CA")])
    intermediate = (
        x509.CertificateBuilder()
        .subject_name(inter_name)
        .issuer_name(root_cert.subject)
        .public_key(inter_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2025, 1, 1, tzinfo=UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.example.com")]))
        .issuer_name(inter_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(inter_key, hashes.SHA256())
    )
    chain_file = tmp_path / "server-chain.pem"
    key_file = tmp_path / "server-key.pem"
    chain_file.write_bytes(
        leaf.public_bytes(serialization.Encoding.PEM)
        + intermediate.public_bytes(serialization.Encoding.PEM)
    )
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain_file, key_file)
    return context


def test_expired_intermediate_reported(
    loop_thread: EventLoopThread,
    pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert],
    tmp_path: Path,
) -> None:
    root, _, _ = pki
    port = loop_thread.serve(smtp_factory(expired_intermediate_server(root, tmp_path)))

    chain = fetch_chain(LOOPBACK, port, timeout=5)
    analysis = analyse_chain(chain, [root_certificate(root)])

    expired = [f for f in analysis.findings if f.code == "expired"]
    assert [f.subject for f in expired] == ["Example Expired Issuing CA"]
    assert "2025-01-01" in expired[0].message


def test_cli_fetch_expired_intermediate_exits_one(
    loop_thread: EventLoopThread,
    pki: tuple[trustme.CA, trustme.CA, trustme.LeafCert],
    tmp_path: Path,
) -> None:
    root, _, _ = pki
    port = loop_thread.serve(smtp_factory(expired_intermediate_server(root, tmp_path)))
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(root.cert_pem.bytes())

    result = CliRunner().invoke(
        certs,
        [
            "fetch",
            f"{LOOPBACK}:{port}",
            "--anchors",
            str(anchors),
            "--out-dir",
            str(tmp_path / "c"),
            "--timeout",
            "5",
        ],
    )

    assert result.exit_code == 1
    assert (
        "error: The intermediate certificate Example Expired Issuing CA expired on 2025-01-01"
        in result.output
    )


def test_fetch_without_starttls_offered(loop_thread: EventLoopThread) -> None:
    port = loop_thread.serve(smtp_factory(None))

    with pytest.raises(
        StartTlsNotOfferedError, match=rf"127\.0\.0\.1:{port}: the server does not offer STARTTLS"
    ):
        fetch_chain(LOOPBACK, port, timeout=5)


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
    return port


def test_fetch_closed_port() -> None:
    port = closed_port()

    with pytest.raises(ServerUnreachableError, match=rf"127\.0\.0\.1:{port}: cannot connect"):
        fetch_chain(LOOPBACK, port, timeout=5)


def test_cli_fetch_closed_port_exits_one(tmp_path: Path) -> None:
    port = closed_port()

    result = CliRunner().invoke(
        certs, ["fetch", f"{LOOPBACK}:{port}", "--out-dir", str(tmp_path), "--timeout", "5"]
    )

    assert result.exit_code == 1
    assert f"error: 127.0.0.1:{port}: cannot connect" in result.output


class SilentProtocol(asyncio.Protocol):
    """Accepts the connection and never sends a greeting."""


class FakeStartTlsProtocol(asyncio.Protocol):
    """Offers STARTTLS, accepts it, then sends bytes that are not TLS."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(b"220 smtp.example.com ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        if data.startswith(b"EHLO"):
            self.transport.write(b"250-smtp.example.com\r\n250 STARTTLS\r\n")
        elif data.startswith(b"STARTTLS"):
            self.transport.write(b"220 Ready to start TLS\r\n")
        else:
            self.transport.write(b"this is not a TLS record\r\n" * 4)
            self.transport.close()


def test_fetch_times_out_without_greeting(loop_thread: EventLoopThread) -> None:
    port = loop_thread.serve(SilentProtocol)

    with pytest.raises(
        ServerUnreachableError, match=r"no SMTP reply within 0\.5 s while waiting for the greeting"
    ):
        fetch_chain(LOOPBACK, port, timeout=0.5)


def test_fetch_reports_failed_handshake(loop_thread: EventLoopThread) -> None:
    port = loop_thread.serve(FakeStartTlsProtocol)

    with pytest.raises(TlsHandshakeError, match="check the port and the --starttls mode"):
        fetch_chain(LOOPBACK, port, timeout=5)
