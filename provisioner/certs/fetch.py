"""Read the certificate chain an SMTP server presents, as ``openssl s_client -showcerts -starttls smtp`` does.

The fetch only retrieves: it does not verify the chain, because the chain is what
:func:`provisioner.certs.chain.analyse_chain` examines next. Python's ``ssl`` module returns the
whole presented chain only from Python 3.13 (``SSLSocket.get_unverified_chain``), so the TLS
handshake runs through pyOpenSSL, whose ``Connection.get_peer_cert_chain()`` works over a socket
on which this module has already spoken SMTP up to ``STARTTLS``.

Errors (all :class:`models.errors.InputError`, because nothing was sent to a device)::

    CertificateFetchError
    ├── ServerUnreachableError    name not resolved, connection refused, timed out
    ├── SmtpProtocolError         the server sent an unexpected SMTP reply
    ├── StartTlsNotOfferedError   EHLO reply without STARTTLS
    └── TlsHandshakeError         the TLS handshake failed or returned no certificate
"""

from __future__ import annotations

import ipaddress
import logging
import select
import socket
import time
from typing import Literal

from cryptography import x509

from models.errors import InputError

logger = logging.getLogger(__name__)

StartTls = Literal["smtp", "none"]

DEFAULT_PORT = 587
DEFAULT_TIMEOUT = 10.0

# An SMTP reply larger than this is not a mail server talking; stop reading instead of buffering it.
_MAX_REPLY_BYTES = 64 * 1024


class CertificateFetchError(InputError):
    """Reading the chain from a server failed; the message names the host and port."""

    def __init__(self, host: str, port: int, message: str) -> None:
        self.host = host
        self.port = port
        super().__init__(f"{_endpoint(host, port)}: {message}")


class ServerUnreachableError(CertificateFetchError):
    """The host name did not resolve, the connection was refused, or the server did not reply in time."""


class SmtpProtocolError(CertificateFetchError):
    """The server sent an SMTP reply other than the one expected at that step."""


class StartTlsNotOfferedError(CertificateFetchError):
    """The server's EHLO reply does not list STARTTLS."""


class TlsHandshakeError(CertificateFetchError):
    """The TLS handshake failed, or the server presented no certificate."""


def fetch_chain(
    host: str,
    port: int = DEFAULT_PORT,
    *,
    starttls: StartTls = "smtp",
    timeout: float = DEFAULT_TIMEOUT,
    server_name: str | None = None,
) -> list[x509.Certificate]:
    """Connect to an SMTP server and return the certificate chain it presents, leaf first.

    With ``starttls="smtp"`` the client reads the 220 greeting, sends EHLO, checks that STARTTLS
    is offered, sends STARTTLS and then starts TLS. With ``starttls="none"`` TLS starts at once
    (implicit TLS, e.g. port 465). No credentials are sent and no mail transaction is started.

    The chain is returned unverified on purpose; pass it to
    :func:`provisioner.certs.chain.analyse_chain` to verify it.

    Args:
        host: server name or IP address.
        port: TCP port; 587 is SMTP submission with STARTTLS.
        starttls: ``smtp`` to upgrade a plain SMTP session, ``none`` for implicit TLS.
        timeout: seconds to wait for the connection and for each reply or handshake step.
        server_name: name sent in SNI; defaults to ``host`` unless it is an IP address.

    Returns:
        The certificates as the server sent them.

    Raises:
        InputError: ``host``, ``port`` or ``starttls`` is invalid.
        ServerUnreachableError: the name did not resolve, the connection failed or timed out.
        SmtpProtocolError: the server replied with an unexpected SMTP code.
        StartTlsNotOfferedError: the server does not offer STARTTLS.
        TlsHandshakeError: the TLS handshake failed.
    """
    if not host:
        raise InputError("the server host name is empty")
    if not 0 < port < 65536:
        raise InputError(f"port {port} is out of range: give a TCP port from 1 to 65535")
    if starttls not in ("smtp", "none"):
        raise InputError(f"starttls {starttls!r} is invalid: use 'smtp' or 'none'")
    if timeout <= 0:
        raise InputError(f"timeout {timeout} is invalid: give a number of seconds greater than 0")
    # RFC 6066 section 3 forbids an IP address in SNI.
    sni = server_name
    if sni is None and not _is_ip_address(host):
        sni = host

    sock = _connect(host, port, timeout)
    try:
        if starttls == "smtp":
            _smtp_starttls(sock, host, port, timeout)
        chain = _handshake(sock, host, port, timeout, sni)
    finally:
        sock.close()
    logger.info(
        "fetched %d certificates from %s (starttls %s, SNI %s)",
        len(chain),
        _endpoint(host, port),
        starttls,
        sni,
    )
    return chain


def _endpoint(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as error:
        raise ServerUnreachableError(
            host, port, f"cannot resolve the host name: {error.strerror}"
        ) from None
    except TimeoutError:
        raise ServerUnreachableError(
            host,
            port,
            f"no connection within {timeout:g} s; check the host, the port and any firewall on the way",
        ) from None
    except OSError as error:
        raise ServerUnreachableError(
            host,
            port,
            f"cannot connect: {error.strerror or error}; check that the server listens on this port",
        ) from None


class _ReplyReader:
    """Reads SMTP replies (RFC 5321 section 4.2) from a blocking socket with a timeout."""

    def __init__(self, sock: socket.socket, host: str, port: int, timeout: float) -> None:
        self._sock = sock
        self._host = host
        self._port = port
        self._timeout = timeout
        self._buffer = b""

    @property
    def pending(self) -> bytes:
        return self._buffer

    def read(self, step: str) -> tuple[int, list[str]]:
        lines: list[str] = []
        while True:
            line = self._read_line(step)
            if len(line) < 3 or not line[:3].isdigit():
                raise SmtpProtocolError(
                    self._host,
                    self._port,
                    f"invalid SMTP reply {line[:80]!r} {step}; is this an SMTP port?",
                )
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines

    def _read_line(self, step: str) -> str:
        while b"\n" not in self._buffer:
            if len(self._buffer) > _MAX_REPLY_BYTES:
                raise SmtpProtocolError(
                    self._host,
                    self._port,
                    f"SMTP reply {step} is longer than {_MAX_REPLY_BYTES} bytes",
                )
            self._sock.settimeout(self._timeout)
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                raise ServerUnreachableError(
                    self._host, self._port, f"no SMTP reply within {self._timeout:g} s {step}"
                ) from None
            except OSError as error:
                raise ServerUnreachableError(
                    self._host, self._port, f"connection failed {step}: {error.strerror or error}"
                ) from None
            if not data:
                raise SmtpProtocolError(
                    self._host, self._port, f"the server closed the connection {step}"
                )
            self._buffer += data
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", errors="replace")


def _send(sock: socket.socket, host: str, port: int, command: str) -> None:
    try:
        sock.sendall(command.encode("ascii") + b"\r\n")
    except OSError as error:
        raise ServerUnreachableError(
            host, port, f"sending {command.split()[0]} failed: {error.strerror or error}"
        ) from None


def _ehlo_name(sock: socket.socket) -> str:
    # An address literal (RFC 5321 section 4.1.3) avoids sending this machine's host name.
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _smtp_starttls(sock: socket.socket, host: str, port: int, timeout: float) -> None:
    reader = _ReplyReader(sock, host, port, timeout)

    code, lines = reader.read("while waiting for the greeting")
    if code != 220:
        raise SmtpProtocolError(
            host, port, f"the server greeted with {code} {' '.join(lines)[:120]} instead of 220"
        )
    logger.debug("%s greeting: %s", _endpoint(host, port), lines[0][:120] if lines else "")

    _send(sock, host, port, f"EHLO {_ehlo_name(sock)}")
    code, lines = reader.read("after EHLO")
    if code != 250:
        raise SmtpProtocolError(
            host,
            port,
            f"the server answered EHLO with {code} {' '.join(lines)[:120]} instead of 250",
        )
    extensions = {line.split(" ", 1)[0].upper() for line in lines[1:] if line}
    if "STARTTLS" not in extensions:
        offered = ", ".join(sorted(extensions)) or "none"
        raise StartTlsNotOfferedError(
            host,
            port,
            f"the server does not offer STARTTLS (EHLO extensions: {offered}). IOS XE's 'secure tls' needs it; "
            "use the server's submission port (587), or --starttls none for a port with implicit TLS (465).",
        )

    _send(sock, host, port, "STARTTLS")
    code, lines = reader.read("after STARTTLS")
    if code != 220:
        raise SmtpProtocolError(
            host,
            port,
            f"the server answered STARTTLS with {code} {' '.join(lines)[:120]} instead of 220",
        )
    if reader.pending:
        # RFC 3207 section 5 treats data sent before the handshake as an injection attack (as in
        # CVE-2011-0411), so TLS must not start on top of it.
        raise SmtpProtocolError(
            host, port, "the server sent data after its STARTTLS reply, before the TLS handshake"
        )


def _handshake(
    sock: socket.socket, host: str, port: int, timeout: float, sni: str | None
) -> list[x509.Certificate]:
    try:
        from OpenSSL import SSL
    except ImportError:
        raise InputError(
            "pyOpenSSL is not installed, so the chain cannot be read; install it with `pip install pyOpenSSL`"
        ) from None

    context = SSL.Context(SSL.TLS_CLIENT_METHOD)
    # Retrieve only: this handshake trusts nothing and sends no data, and the chain it returns is
    # verified afterwards by analyse_chain against the anchors the user chose.
    context.set_verify(SSL.VERIFY_NONE)
    connection = SSL.Connection(context, sock)
    if sni is not None:
        connection.set_tlsext_host_name(sni.encode("idna"))
    connection.set_connect_state()

    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection.do_handshake()
            break
        except SSL.WantReadError:
            _wait(sock, host, port, deadline, timeout, readable=True)
        except SSL.WantWriteError:
            _wait(sock, host, port, deadline, timeout, readable=False)
        except SSL.SysCallError as error:
            raise TlsHandshakeError(
                host, port, f"the connection closed during the TLS handshake ({error.args[-1]})"
            ) from None
        except SSL.Error as error:
            reason = _openssl_reason(error)
            hint = ""
            if "wrong version number" in reason:
                hint = "; the server did not answer with TLS, so check the port and the --starttls mode"
            raise TlsHandshakeError(host, port, f"TLS handshake failed: {reason}{hint}") from None

    chain = connection.get_peer_cert_chain(as_cryptography=True)
    if not chain:
        raise TlsHandshakeError(host, port, "the server presented no certificate")
    return list(chain)


def _wait(
    sock: socket.socket, host: str, port: int, deadline: float, timeout: float, *, readable: bool
) -> None:
    remaining = deadline - time.monotonic()
    if remaining > 0:
        ready = (
            select.select([sock], [], [], remaining)
            if readable
            else select.select([], [sock], [], remaining)
        )
        if ready[0] or ready[1]:
            return
    raise ServerUnreachableError(
        host, port, f"the TLS handshake did not finish within {timeout:g} s"
    )


def _openssl_reason(error: Exception) -> str:
    # pyOpenSSL puts a list of (library, function, reason) tuples in args[0].
    reasons = (
        [entry[-1] for entry in error.args[0] if isinstance(entry, tuple)]
        if error.args and isinstance(error.args[0], list)
        else []
    )
    return "; ".join(reasons) or str(error) or type(error).__name__
