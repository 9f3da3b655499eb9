"""Errors of the device layer; importable without pyserial (the CLI catches them)."""
from __future__ import annotations

from edgebnn.errors import EdgebnnError


class DeviceError(EdgebnnError, RuntimeError):
    """The board did not answer, the link broke, or it answered something unusable. The
    message names the port, and the command and sequence number that went unanswered."""


class BoardRestarted(DeviceError):
    """The board's boot banner arrived instead of a reply: it reset mid-command."""


class CommandError(DeviceError):
    """The board answered a request with an error status (docs/protocol.md "Status codes")."""

    def __init__(self, message: str, status: int, detail: bytes) -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
