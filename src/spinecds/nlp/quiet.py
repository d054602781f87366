"""Silence medspaCy's sentence splitter (PyRuSH), which logs every token at DEBUG level.

PyRuSH writes through loguru, whose default handler prints DEBUG lines to stderr: thousands
of lines for one note. Disabling loguru for the ``PyRuSH`` package silences exactly those
lines and leaves every other loguru user as it was.
"""

from __future__ import annotations

__all__ = ["quiet_pyrush"]


def quiet_pyrush() -> None:
    from loguru import logger

    logger.disable("PyRuSH")
