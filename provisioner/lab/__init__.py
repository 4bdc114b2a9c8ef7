"""A simulated Cisco IOS XE device that serves NETCONF over SSH on loopback.

It imitates the parts of IOS XE this project uses. These are the hello of a release, running
and candidate datastores with RFC 6241 edit-config, locks, ietf-yang-library, and the cisco-ia
sync and save RPCs. It also accepts the CLI subset of ``config-ios-cli-rpc`` that this project
sends, including the lines that no YANG model covers.
"""

from provisioner.lab.faults import Faults
from provisioner.lab.fleet import LabFleet
from provisioner.lab.labdevice import LabDevice, LabLoop
from provisioner.lab.releases import RELEASES, Release, get_release
from provisioner.lab.runner import run_fleet, run_lab
from provisioner.lab.server import LabServer
from provisioner.lab.statedir import StateDirInUseError

__all__ = [
    "RELEASES",
    "Faults",
    "LabDevice",
    "LabFleet",
    "LabLoop",
    "LabServer",
    "Release",
    "StateDirInUseError",
    "get_release",
    "run_fleet",
    "run_lab",
]
