"""Optional libyang validation of the lab device's native configuration against real YANG."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from lxml import etree

from payloads import namespaces as ns
from provisioner.lab.errors import RpcError

logger = logging.getLogger(__name__)

_MODULES = ("Cisco-IOS-XE-eem", "Cisco-IOS-XE-crypto")


class YangValidator:
    """Validates ``/native`` against Cisco-IOS-XE-eem and Cisco-IOS-XE-crypto from a YANG
    folder (for example a copy of YangModels ``vendor/cisco/xe/17121``).

    Raises (from the constructor):
        RuntimeError: The ``libyang`` package is not installed.
        libyang.LibyangError: The folder lacks the modules or their imports.
    """

    def __init__(self, yang_dir: Path) -> None:
        try:
            import libyang
        except ImportError as error:
            raise RuntimeError(
                "validation with --yang-dir needs the libyang package: "
                "pip install 'libyang>=2.7,<2.8'"
            ) from error
        self._libyang = libyang
        self._lock = threading.Lock()
        self.yang_dir = yang_dir
        self._context = libyang.Context(str(yang_dir))
        for module in _MODULES:
            self._context.load_module(module)
        logger.info("loaded YANG modules %s from %s", ", ".join(_MODULES), yang_dir)

    def check(self, data: etree._Element) -> None:
        """Validate the ``native`` child of a datastore tree.

        Raises:
            RpcError: invalid-value with libyang's message when the data is invalid.
        """
        native = data.find(f"{{{ns.NATIVE}}}native")
        if native is None:
            return
        text = etree.tostring(native, encoding="unicode")
        with self._lock:
            try:
                tree = self._context.parse_data_mem(text, "xml", no_state=True, strict=True)
            except self._libyang.LibyangError as error:
                raise RpcError("application", "invalid-value", str(error), "/native") from error
            if tree is not None:
                tree.free()
