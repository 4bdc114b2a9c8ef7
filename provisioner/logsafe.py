"""Keep secrets out of log records, including those of ncclient and paramiko.

ncclient logs whole NETCONF messages ("Sending: ..." at INFO, received messages and 1.1 chunk
fragments at DEBUG, as of ncclient 0.7). Those messages carry the SMTP server string with its
password, and a chunk boundary can split a password so that masking known values is not enough.
The filter therefore withholds message content from ncclient records and masks known secrets in
every record of the loggers it is attached to.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "********"
# httpx and httpcore (RESTCONF client) and aiohttp (the lab's RESTCONF server) log URLs and
# connection events, not bodies (checked with httpx 0.29, httpcore 1.0, aiohttp 3.14); their records are masked too.
_WATCHED_PREFIXES = (
    "ncclient", "paramiko", "provisioner", "payloads", "models", "asyncssh", "httpx", "httpcore", "aiohttp",
)

# XML, or a quoted buffer or chunk fragment, in an ncclient message (ncclient 0.7 quotes them).
_CONTENT = re.compile(r"[<\"\n]")

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secrets(values: list[str]) -> None:
    """Add values that must never appear in a log record (process-wide, as logging is)."""
    with _lock:
        _secrets.update(value for value in values if value)
    install()


class RedactingFilter(logging.Filter):
    """Mask registered secrets, and withhold NETCONF content from ncclient records."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.name.startswith("ncclient") and _CONTENT.search(message):
            # Keep the words before the content, e.g. "Sending:" or "_parse11: fragment =".
            prefix = _CONTENT.split(message.split("\n", 1)[0], maxsplit=1)[0].rstrip()
            message = f"{prefix} [NETCONF content withheld: it may carry secrets]"
        with _lock:
            secrets = sorted(_secrets, key=len, reverse=True)
        for secret in secrets:
            message = message.replace(secret, MASK)
        record.msg = message
        record.args = None
        return True


_filter = RedactingFilter()
# Size of the logger registry at the last install(): loggers are never removed from it, so an
# unchanged size means no logger is missing the filter.
_registry_size_installed = -1


def install() -> None:
    """Attach the filter to every existing logger of ncclient, paramiko and this project.

    Filters on a logger apply only to records created on that logger, so each one gets it.
    """
    # ncclient creates its loggers when its modules are imported, and imports the SSH transport
    # only on the first connect, so import every module that logs message content first.
    import ncclient.manager
    import ncclient.operations.rpc
    import ncclient.transport.parser
    import ncclient.transport.session
    import ncclient.transport.ssh  # noqa: F401

    global _registry_size_installed
    registry = logging.Logger.manager.loggerDict
    size = len(registry)
    if size == _registry_size_installed:
        # A fleet run calls this twice per device, so the scan below runs only after new
        # loggers appeared.
        return
    names = [name for name in list(registry) if name.startswith(_WATCHED_PREFIXES)]
    for name in [*_WATCHED_PREFIXES, *names]:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    _registry_size_installed = size


def mask(text: str) -> str:
    """Return ``text`` with every registered secret replaced by the mask."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
