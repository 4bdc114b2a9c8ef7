"""NETCONF message framing over SSH (RFC 6242): end-of-message for base:1.0, chunked for 1.1."""

from __future__ import annotations

END_OF_MESSAGE = b"]]>]]>"
_MAX_CHUNK = 4294967295
_MAX_HEADER = 16


class FramingError(Exception):
    """The peer broke the framing rules; the session must be closed."""


class FrameDecoder:
    """Splits a byte stream into NETCONF messages.

    Starts in end-of-message mode; call ``use_chunked()`` once both hellos advertised
    base:1.1.
    """

    def __init__(self, max_message: int = 64 * 1024 * 1024) -> None:
        self._buffer = bytearray()
        self._chunks = bytearray()
        self._max_message = max_message
        self.chunked = False

    def use_chunked(self) -> None:
        """Switch to chunked framing for every message after the hello."""
        self.chunked = True

    def feed(self, data: bytes) -> None:
        """Add received bytes.

        Raises:
            FramingError: The buffered message is larger than the limit.
        """
        self._buffer.extend(data)
        if len(self._buffer) + len(self._chunks) > self._max_message:
            raise FramingError(f"message larger than {self._max_message} bytes")

    def next_message(self) -> bytes | None:
        """Return the next complete message, or None until more bytes arrive.

        Raises:
            FramingError: Bad chunk header.
        """
        return self._next_chunked() if self.chunked else self._next_eom()

    def pending(self) -> bool:
        """True when bytes of an unfinished message are buffered."""
        return bool(self._buffer) or bool(self._chunks)

    def _next_eom(self) -> bytes | None:
        index = self._buffer.find(END_OF_MESSAGE)
        if index < 0:
            return None
        message = bytes(self._buffer[:index])
        del self._buffer[:index + len(END_OF_MESSAGE)]
        return message

    def _next_chunked(self) -> bytes | None:
        while True:
            if len(self._buffer) < 4:
                return None
            if self._buffer[:2] != b"\n#":
                raise FramingError("chunk header does not start with LF #")
            if self._buffer[2:4] == b"#\n":
                del self._buffer[:4]
                message = bytes(self._chunks)
                self._chunks.clear()
                return message
            end = self._buffer.find(b"\n", 2)
            if end < 0:
                if len(self._buffer) > _MAX_HEADER:
                    raise FramingError("chunk header too long")
                return None
            digits = bytes(self._buffer[2:end])
            if not digits.isdigit() or digits.startswith(b"0"):
                raise FramingError(f"invalid chunk size {digits[:12]!r}")
            size = int(digits)
            if size > _MAX_CHUNK:
                raise FramingError(f"chunk size {size} exceeds {_MAX_CHUNK}")
            if len(self._buffer) < end + 1 + size:
                return None
            self._chunks.extend(self._buffer[end + 1:end + 1 + size])
            del self._buffer[:end + 1 + size]


def encode(message: bytes, chunked: bool) -> bytes:
    """Frame one message for sending."""
    if chunked:
        return b"\n#%d\n" % len(message) + message + b"\n##\n"
    return message + END_OF_MESSAGE
