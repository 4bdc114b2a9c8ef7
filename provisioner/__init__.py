"""Model-driven provisioning of Cisco IOS XE EEM e-mail alerts and PKI trustpoints over NETCONF.

The library API for controllers and schedulers. Every function here returns typed results,
prints nothing and never exits. The ``*_device`` functions work on one device::

    from provisioner import apply_device, load_intent, load_inventory

    intent = load_intent("intent.yaml")              # passwords from the environment
    host = load_inventory("inventory.yaml").hosts["edge1"]
    result = apply_device(intent, host)
    if result.failed:
        print(result.outcome, result.error)

The ``*_devices`` functions and ``check_fleet`` run one device per worker thread, at most
``workers`` at a time, and return a :class:`FleetResult` with one :class:`DeviceRun` per host in
inventory order, plus counts per state::

    hosts = list(load_inventory("inventory.yaml").hosts.values())
    fleet = apply_devices(intent, hosts, workers=8, timeout=600)
    print(fleet.counts())                            # {'done': 2, 'failed': 1, ...}
    for run in fleet.in_state("failed"):
        print(run.device, run.error)

Each call opens its own NETCONF sessions, so calls for different devices may run in threads at
the same time. From asyncio, await ``aplan_devices``, ``aapply_devices`` or ``acheck_fleet``, or
run a single-device function in a thread: ``await asyncio.to_thread(apply_device, ...)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from models.errors import InputError, IntentError, Problem, ProvisionerError
    from models.intent import Intent, load_intent, parse_intent
    from models.inventory import Group, Host, Inventory, load_inventory
    from provisioner.compliance import (
        CheckOptions,
        DeviceCompliance,
        acheck_fleet,
        check_device,
        check_devices,
        check_fleet,
    )
    from provisioner.devices import aapply_devices, aplan_devices, apply_devices, plan_devices
    from provisioner.diff import ObjectChange, Plan
    from provisioner.engine import ApplyResult, ObjectReport, apply_device, plan_device
    from provisioner.errors import (
        DeviceError,
        DeviceRefusedError,
        DeviceUnreachableError,
        HostKeyError,
        VerificationError,
    )
    from provisioner.fleet import DeviceRun, FleetInterrupted, FleetResult, Progress

# Each public name and the module that defines it. Names load on first use (PEP 562), so
# `provisioner --help` does not import pydantic models, ncclient or the lab device.
_EXPORTS = {
    "ApplyResult": "provisioner.engine",
    "CheckOptions": "provisioner.compliance",
    "DeviceCompliance": "provisioner.compliance",
    "DeviceError": "provisioner.errors",
    "DeviceRefusedError": "provisioner.errors",
    "DeviceRun": "provisioner.fleet",
    "DeviceUnreachableError": "provisioner.errors",
    "FleetInterrupted": "provisioner.fleet",
    "FleetResult": "provisioner.fleet",
    "Group": "models.inventory",
    "Host": "models.inventory",
    "HostKeyError": "provisioner.errors",
    "InputError": "models.errors",
    "Intent": "models.intent",
    "IntentError": "models.errors",
    "Inventory": "models.inventory",
    "ObjectChange": "provisioner.diff",
    "ObjectReport": "provisioner.engine",
    "Plan": "provisioner.diff",
    "Problem": "models.errors",
    "Progress": "provisioner.fleet",
    "ProvisionerError": "models.errors",
    "VerificationError": "provisioner.errors",
    "aapply_devices": "provisioner.devices",
    "acheck_fleet": "provisioner.compliance",
    "aplan_devices": "provisioner.devices",
    "apply_device": "provisioner.engine",
    "apply_devices": "provisioner.devices",
    "check_device": "provisioner.compliance",
    "check_devices": "provisioner.compliance",
    "check_fleet": "provisioner.compliance",
    "load_intent": "models.intent",
    "load_inventory": "models.inventory",
    "parse_intent": "models.intent",
    "plan_device": "provisioner.engine",
    "plan_devices": "provisioner.devices",
}

__all__ = [
    "ApplyResult",
    "CheckOptions",
    "DeviceCompliance",
    "DeviceError",
    "DeviceRefusedError",
    "DeviceRun",
    "DeviceUnreachableError",
    "FleetInterrupted",
    "FleetResult",
    "Group",
    "Host",
    "HostKeyError",
    "InputError",
    "Intent",
    "IntentError",
    "Inventory",
    "ObjectChange",
    "ObjectReport",
    "Plan",
    "Problem",
    "Progress",
    "ProvisionerError",
    "VerificationError",
    "aapply_devices",
    "acheck_fleet",
    "aplan_devices",
    "apply_device",
    "apply_devices",
    "check_device",
    "check_devices",
    "check_fleet",
    "load_intent",
    "load_inventory",
    "parse_intent",
    "plan_device",
    "plan_devices",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, "__doc__", "__name__", "__path__", "__file__", "__all__"})
