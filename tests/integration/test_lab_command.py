"""The ``lab`` command in a subprocess, and libyang validation with a YANG folder."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import paramiko
import pytest
from click.testing import CliRunner
from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError

from payloads import namespaces as ns
from provisioner.lab import LabDevice
from provisioner.lab.command import lab as lab_command

pytestmark = pytest.mark.integration

LAUNCH = "from provisioner.lab.command import lab; lab()"


def _wait_for_line(process: subprocess.Popen[str], timeout: float = 20) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "listening on" in line:
            return line
        if process.poll() is not None:
            break
    pytest.fail(f"lab command did not start: {process.stderr.read() if process.stderr else ''}")


def test_command_serves_until_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "lab-state"
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--port", "0", "--state-dir", str(state),
         "--mutate", ("/ios:native/ios:event/eem:manager/eem:environment"
         "[eem:name='_email_to']/eem:value=changed@example.com")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        line = _wait_for_line(process)
        assert str(state / "inventory.yaml") in line
        port = int(line.split("127.0.0.1:")[1].split(";")[0])
        host_keys = paramiko.HostKeys(str(state / "known_hosts"))
        key = host_keys.lookup(f"[127.0.0.1]:{port}")["ssh-ed25519"]
        password = (state / "password").read_text().strip()
        with manager.connect(host="127.0.0.1", port=port, username="admin", password=password,
                             hostkey_verify=True, hostkey_b64=key.get_base64(),
                             look_for_keys=False, allow_agent=False,
                             device_params={"name": "default"}, timeout=15) as m:
            m.edit_config(target="candidate", config=(
                f'<config xmlns="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event>'
                f'<manager xmlns="{ns.EEM}"><environment><name>_email_to</name>'
                "<value>noc@example.com</value></environment></manager></event></native>"
                "</config>"))
            m.commit()
            root = etree.fromstring(m.get_config("running").xml.encode())
        values = root.xpath("//eem:environment/eem:value/text()", namespaces=ns.XPATH_PREFIXES)
        assert values == ["changed@example.com"]
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Lab device stopped." in out


def test_command_rejects_bad_mutation(tmp_path: Path) -> None:
    result = CliRunner().invoke(lab_command, ["--state-dir", str(tmp_path), "--mutate", "novalue"])
    assert result.exit_code == 2
    assert "XPATH=VALUE" in result.output


def test_command_rejects_unknown_release(tmp_path: Path) -> None:
    result = CliRunner().invoke(lab_command, ["--state-dir", str(tmp_path), "--release", "16.9"])
    assert result.exit_code == 2


def test_yang_dir_validation_and_get_schema(tmp_path: Path, yang_dir: Path) -> None:
    yang_dir = yang_dir / "17121"
    with LabDevice(state_dir=tmp_path, yang_dir=yang_dir) as lab, manager.connect(
        host=lab.host, port=lab.port, username=lab.username, password=lab.password,
        hostkey_verify=True, hostkey_b64=lab.host_key_base64, look_for_keys=False,
        allow_agent=False, device_params={"name": "default"}, timeout=15,
    ) as m:
        bad = (f'<config xmlns="{ns.NETCONF_BASE}"><native xmlns="{ns.NATIVE}"><event>'
               f'<manager xmlns="{ns.EEM}"><applet><name>A</name><event><none-choice>'
               "<maxrun>sixty</maxrun></none-choice></event></applet></manager></event>"
               "</native></config>")
        with pytest.raises(RPCError) as raised:
            m.edit_config(target="candidate", config=bad)
        assert raised.value.tag == "invalid-value"
        assert "maxrun" in (raised.value.message or "") or "uint32" in \
            (raised.value.message or "")
        m.edit_config(target="candidate", config=bad.replace("sixty", "60"))
        m.commit()
        schema = m.get_schema("Cisco-IOS-XE-eem", version="2022-11-01")
        assert "module Cisco-IOS-XE-eem" in schema.data
