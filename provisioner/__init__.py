"""Model-driven provisioning of Cisco IOS XE EEM e-mail alerts and PKI trustpoints over NETCONF.

The library API for controllers and schedulers. Every function here works on one device (or,
for ``check_devices``, many at once), returns typed results, prints nothing and never exits::

    from provisioner import apply_device, load_intent, load_inventory

    intent = load_intent("intent.yaml")              # passwords from the environment
    host = load_inventory("inventory.yaml").hosts["edge1"]
    result = apply_device(intent, host)
    if result.failed:
        print(result.outcome, result.error)

Each call opens its own NETCONF session, so calls for different devices may run in threads at
the same time. From asyncio, run them in a thread: ``await asyncio.to_thread(apply_device, ...)``.
"""

from models.errors import InputError, IntentError, Problem, ProvisionerError
from models.intent import Intent, load_intent, parse_intent
from models.inventory import Host, Inventory, load_inventory
from provisioner.compliance import CheckOptions, DeviceCompliance, check_device, check_devices
from provisioner.diff import ObjectChange, Plan
from provisioner.engine import ApplyResult, ObjectReport, apply_device, plan_device
from provisioner.errors import (
    DeviceError,
    DeviceRefusedError,
    DeviceUnreachableError,
    HostKeyError,
    VerificationError,
)

__all__ = [
    "ApplyResult",
    "CheckOptions",
    "DeviceCompliance",
    "DeviceError",
    "DeviceRefusedError",
    "DeviceUnreachableError",
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
    "ProvisionerError",
    "VerificationError",
    "apply_device",
    "check_device",
    "check_devices",
    "load_intent",
    "load_inventory",
    "parse_intent",
    "plan_device",
]
