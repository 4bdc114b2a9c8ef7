"""Compare the client CPU per device of the tool's NETCONF transport (threads, ncclient and
paramiko) with a minimal asyncio NETCONF client on asyncssh, against the same lab fleet.

Usage: python benchmarks/transport_cost.py [--devices 1000] [--latency-ms 50] [--workers 50]
       [--rounds 2]

Starts `provisioner lab --devices N --latency-ms L` in a separate process, like
fleet_sweep.py. Each client then does, per device and with at most W devices at a time: connect
with the host key from the lab's known_hosts, exchange hellos, send the check's get-config
(running, the example intent's filter) and its pki-oper <get> back to back, read both replies
and parse them with lxml, and close the session. The threaded client is the product's
NetconfSession, run by provisioner.fleet.run_fleet as `provisioner check` runs it. The asyncio
client exists only in this file and is no product code: it has no error handling beyond what a
measurement needs.

The asyncio client is limited to the SSH algorithms that paramiko negotiates with the lab device
(printed at the start), so that both sides pay for the same key exchange and cipher. Each round
runs both clients once and prints the CPU time of this process per device, the wall time and the
lab process's CPU time per device.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncssh
import paramiko
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.intent import Intent, load_intent  # noqa: E402
from models.inventory import Host, load_inventory  # noqa: E402
from payloads import namespaces as ns  # noqa: E402
from payloads.filters import pki_oper_filter  # noqa: E402
from provisioner.compliance import _check_filter  # noqa: E402
from provisioner.fleet import run_fleet  # noqa: E402
from provisioner.transport.base import request  # noqa: E402
from provisioner.transport.netconf import NetconfSession  # noqa: E402

EXAMPLE = ROOT / "examples" / "secure-email.yaml"
PROVISIONER = [sys.executable, "-m", "provisioner"]
_NC = f"{{{ns.NETCONF_BASE}}}"
BASE_1_0 = "urn:ietf:params:netconf:base:1.0"
BASE_1_1 = "urn:ietf:params:netconf:base:1.1"
END_OF_MESSAGE = b"]]>]]>"


def start_fleet(state: Path, devices: int, latency_ms: int) -> subprocess.Popen[bytes]:
    """Start the lab fleet in its own process and wait until its inventory exists."""
    process = subprocess.Popen(
        [*PROVISIONER, "lab", "--devices", str(devices), "--base-port", "0", "--state-dir", str(state),
         "--latency-ms", str(latency_ms)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT,
    )
    while not (state / "inventory.yaml").exists():
        if process.poll() is not None:
            raise SystemExit(f"the lab fleet exited early: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        time.sleep(0.2)
    return process


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) that a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def negotiated_algorithms(host: Host) -> dict[str, str]:
    """Connect with paramiko as the product does and return the negotiated kex, cipher and MAC."""
    sock = socket.create_connection((host.hostname, host.port))
    transport = paramiko.Transport(sock)
    try:
        transport.start_client()
        # paramiko keeps no name of the finished key exchange. The client's order decides
        # (RFC 4253 section 7.1), so it is paramiko's first kex that asyncssh's server offers.
        server_kex = {name.decode() for name in asyncssh.kex.get_default_kex_algs()}
        kex = next(name for name in transport.preferred_kex if name in server_kex)
        names = {"kex": kex, "cipher": transport.local_cipher, "mac": transport.local_mac,
                 "host_key": transport.host_key_type}
    finally:
        transport.close()
    return names


def _netconf_filter(element: etree._Element) -> etree._Element:
    """Return the filter as ``<filter>`` in the NETCONF base namespace, as ncclient sends it."""
    if element.tag == _NC + "filter":
        return element
    wrapped = etree.Element(_NC + "filter", nsmap={None: ns.NETCONF_BASE})
    wrapped.set("type", element.get("type", "subtree"))
    for child in element:
        wrapped.append(etree.fromstring(etree.tostring(child)))
    return wrapped


def rpc_messages(config_filter: etree._Element, oper_filter: etree._Element) -> list[bytes]:
    """Serialise the get-config and the <get> that the check pipelines."""
    get_config = etree.Element(_NC + "rpc", nsmap={None: ns.NETCONF_BASE}, attrib={"message-id": "1"})
    operation = etree.SubElement(get_config, _NC + "get-config")
    etree.SubElement(etree.SubElement(operation, _NC + "source"), _NC + "running")
    operation.append(_netconf_filter(config_filter))
    get = etree.Element(_NC + "rpc", nsmap={None: ns.NETCONF_BASE}, attrib={"message-id": "2"})
    etree.SubElement(get, _NC + "get").append(_netconf_filter(oper_filter))
    return [etree.tostring(get_config, xml_declaration=True, encoding="UTF-8"),
            etree.tostring(get, xml_declaration=True, encoding="UTF-8")]


def run_threads(hosts: list[Host], workers: int, intent: Intent) -> int:
    """Read every device with the product's NetconfSession in worker threads; return the failures."""

    def task(host: Host) -> None:
        # Each device gets its own filter elements, as in the check: ncclient puts them into
        # its request tree, and lxml trees must not be changed from two threads at once.
        config_filter = _check_filter(intent)
        oper_filter = pki_oper_filter([])
        with NetconfSession(host, timeout=60) as session:
            for result in session.batch([request("get_config", "running", config_filter), request("get", oper_filter)]):
                if isinstance(result, Exception):
                    raise result

    fleet = run_fleet(hosts, task, workers=workers, timeout=120)
    return sum(1 for run in fleet.devices if run.state != "done")


class _Reader:
    """Message splitter for the byte stream of one NETCONF session (RFC 6242 framing)."""

    def __init__(self, stdout: asyncssh.SSHReader[bytes]) -> None:
        self.stdout = stdout
        self.buffer = bytearray()
        self.chunked = False

    async def _fill(self) -> None:
        data = await self.stdout.read(65536)
        if not data:
            raise ConnectionError("the device closed the session")
        self.buffer.extend(data)

    async def message(self) -> bytes:
        if not self.chunked:
            while (end := self.buffer.find(END_OF_MESSAGE)) < 0:
                await self._fill()
            message = bytes(self.buffer[:end])
            del self.buffer[:end + len(END_OF_MESSAGE)]
            return message
        chunks = bytearray()
        while True:
            while (header_end := self.buffer.find(b"\n", 1)) < 0:
                await self._fill()
            header = bytes(self.buffer[:header_end])
            if header == b"\n##":
                del self.buffer[:header_end + 1]
                return bytes(chunks)
            size = int(header[2:])
            while len(self.buffer) < header_end + 1 + size:
                await self._fill()
            chunks.extend(self.buffer[header_end + 1:header_end + 1 + size])
            del self.buffer[:header_end + 1 + size]


def _frame(message: bytes, chunked: bool) -> bytes:
    return b"\n#%d\n%s\n##\n" % (len(message), message) if chunked else message + END_OF_MESSAGE


async def _read_device(host: Host, rpcs: list[bytes], options: asyncssh.SSHClientConnectionOptions) -> None:
    password = host.password.get_secret_value() if host.password else None
    async with asyncssh.connect(host.hostname, host.port, options=options, username=host.username,
                                password=password) as connection:
        process = await connection.create_process(subsystem="netconf", encoding=None)
        hello = (f'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="{ns.NETCONF_BASE}"><capabilities>'
                 f"<capability>{BASE_1_0}</capability><capability>{BASE_1_1}</capability>"
                 "</capabilities></hello>").encode()
        process.stdin.write(_frame(hello, chunked=False))
        reader = _Reader(process.stdout)
        server_hello = etree.fromstring(await reader.message())
        capabilities = {(element.text or "").strip() for element in server_hello.iter(_NC + "capability")}
        reader.chunked = BASE_1_1 in capabilities
        process.stdin.write(b"".join(_frame(rpc, reader.chunked) for rpc in rpcs))
        for _ in rpcs:
            reply = etree.fromstring(await reader.message())
            if reply.find(_NC + "rpc-error") is not None:
                raise RuntimeError(f"{host.name}: rpc-error in reply")
        close = (f'<?xml version="1.0" encoding="UTF-8"?><rpc xmlns="{ns.NETCONF_BASE}" message-id="3">'
                 "<close-session/></rpc>").encode()
        process.stdin.write(_frame(close, reader.chunked))
        process.stdin.write_eof()


async def run_asyncio(hosts: list[Host], workers: int, rpcs: list[bytes], algorithms: dict[str, str]) -> int:
    """Read every device with the asyncio client, at most ``workers`` at a time; return the failures."""
    # Parsed once here: given a path, asyncssh parses the file again for every connection,
    # which costs O(devices) each time.
    known_hosts = hosts[0].known_hosts
    assert known_hosts is not None
    options = asyncssh.SSHClientConnectionOptions(
        known_hosts=asyncssh.import_known_hosts(known_hosts.read_text(encoding="utf-8")),
        kex_algs=[algorithms["kex"]], encryption_algs=[algorithms["cipher"]], mac_algs=[algorithms["mac"]],
        server_host_key_algs=[algorithms["host_key"]],
        client_keys=None, agent_path=None, preferred_auth="password",
    )
    limit = asyncio.Semaphore(workers)
    failures = 0

    async def one(host: Host) -> None:
        nonlocal failures
        async with limit:
            try:
                await asyncio.wait_for(_read_device(host, rpcs, options), timeout=120)
            except (OSError, asyncssh.Error, RuntimeError, asyncio.TimeoutError) as error:
                failures += 1
                print(f"  asyncio client: {host.name}: {error}", file=sys.stderr)

    await asyncio.gather(*(one(host) for host in hosts))
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    options = parser.parse_args()
    os.environ.setdefault("SMTP_PASSWORD", "benchmarkpassword")

    intent = load_intent(EXAMPLE, unresolved=[])
    config_filter = _check_filter(intent)
    oper_filter = pki_oper_filter([])
    assert isinstance(config_filter, etree._Element)
    rpcs = rpc_messages(config_filter, oper_filter)

    with tempfile.TemporaryDirectory() as folder:
        state = Path(folder) / "fleet"
        lab = start_fleet(state, options.devices, options.latency_ms)
        try:
            hosts = load_inventory(state / "inventory.yaml").limit(())
            algorithms = negotiated_algorithms(hosts[0])
            print(f"{options.devices} lab devices, {options.latency_ms} ms latency, {options.workers} at a time; "
                  f"algorithms paramiko negotiates: {algorithms}")
            clients = [
                ("threads (NetconfSession: ncclient + paramiko)",
                 lambda: run_threads(hosts, options.workers, intent)),
                ("asyncio (asyncssh, this file)",
                 lambda: asyncio.run(run_asyncio(hosts, options.workers, rpcs, algorithms))),
            ]
            for round_number in range(1, options.rounds + 1):
                for label, client in clients:
                    lab_before = process_cpu(lab.pid)
                    cpu_before = time.process_time()
                    started = time.perf_counter()
                    failures = client()
                    wall = time.perf_counter() - started
                    cpu = time.process_time() - cpu_before
                    lab_cpu = process_cpu(lab.pid) - lab_before
                    print(f"  round {round_number}, {label}: {1000 * cpu / len(hosts):.1f} ms client CPU per device, "
                          f"{wall:.1f} s wall, {1000 * lab_cpu / len(hosts):.1f} ms lab CPU per device, "
                          f"{failures} failed")
        finally:
            lab.send_signal(signal.SIGINT)
            try:
                lab.wait(timeout=60)
            except subprocess.TimeoutExpired:
                lab.kill()


if __name__ == "__main__":
    main()
