"""The audit log's one error type: a database that cannot be reached, read or written."""

from __future__ import annotations

from dataclasses import dataclass

from spinecds.errors import SpinecdsError

__all__ = ["StoreError"]


@dataclass
class StoreError(SpinecdsError):
    """The audit log failed; the message names the cause and nothing was half-written.

    Exit code 1 (the database, not the user's input, is at fault) unless a bad URL or
    option makes it 2. The service should answer 503, not 4xx, for this error.
    """

    exit_code: int = 1
