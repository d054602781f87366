"""Plain-text writer: wrapped at 100 columns, no colour codes, so it reads the same in a
terminal, a text file, an e-mail or a printed page."""

from __future__ import annotations

import textwrap
from itertools import zip_longest

from spinecds.render.common import Block, Bullets, Entry, Heading, Para, Table

__all__ = ["WIDTH", "render_text", "wrap"]

WIDTH = 100
GUTTER = "  "
BAR = "  |  "
MIN_COLUMN = 8
UNDERLINE = {1: "=", 2: "-"}


def wrap(text: str, width: int = WIDTH, first: str = "", rest: str = "") -> list[str]:
    """Wrap on spaces only: citation ids and URLs contain hyphens and must stay whole."""
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    ) or [first.rstrip()]


def render_text(blocks: list[Block], width: int = WIDTH) -> str:
    """Blocks separated by one blank line; the first block is the first line of output."""
    return "\n\n".join("\n".join(_block(b, width)) for b in blocks) + "\n"


def _block(block: Block, width: int) -> list[str]:
    if isinstance(block, Heading):
        return _heading(block)
    if isinstance(block, Para):
        return _banner(block.text, width) if block.strong else wrap(block.text, width)
    if isinstance(block, Bullets):
        return _bullets(block, width)
    if isinstance(block, Entry):
        return _entry(block, width)
    return _table(block, width)


def _heading(heading: Heading) -> list[str]:
    mark = UNDERLINE.get(heading.level)
    if mark is None:
        return [f"{heading.text}:"]
    return [heading.text.upper(), mark * len(heading.text)]


def _banner(text: str, width: int) -> list[str]:
    """A banner breaks only between its ``|`` fields, so no field is cut in half."""
    lines: list[str] = []
    for field in text.split(BAR):
        if lines and len(lines[-1]) + len(BAR) + len(field) <= width:
            lines[-1] += BAR + field
        else:
            lines.append(field if not lines else f"{BAR.lstrip()}{field}")
    return lines


def _bullets(bullets: Bullets, width: int) -> list[str]:
    lines: list[str] = []
    size = len(str(len(bullets.items)))
    for i, item in enumerate(bullets.items, start=1):
        mark = f"{i:>{size}}. " if bullets.numbered else "- "
        lines += wrap(item, width, mark, " " * len(mark))
        for child in bullets.sub(i - 1):
            lines += wrap(child, width, " " * len(mark) + "- ", " " * (len(mark) + 2))
    return lines


def _entry(entry: Entry, width: int) -> list[str]:
    lines = wrap(entry.title, width, "* ", "  ")
    for label, value in entry.details:
        first = f"    {label}: " if label else "    "
        lines += wrap(value, width, first, " " * 6)
    return lines


def _table(table: Table, width: int) -> list[str]:
    """Columns fitted to the width; the widest column gives way first and its cells wrap."""
    columns = list(zip(table.headers, *table.rows, strict=False))
    widths = _fit([max(len(cell) for cell in col) for col in columns], width)
    lines = _row(table.headers, widths)
    lines.append(GUTTER.join("-" * w for w in widths))
    for row in table.rows:
        lines += _row(row, widths)
    return lines


def _fit(natural: list[int], width: int) -> list[int]:
    widths = list(natural)
    room = width - len(GUTTER) * (len(widths) - 1)
    while sum(widths) > room:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= MIN_COLUMN:
            break
        widths[widest] -= 1
    return widths


def _row(cells: tuple[str, ...], widths: list[int]) -> list[str]:
    wrapped = [
        textwrap.wrap(c, w, break_on_hyphens=False) or [""]
        for c, w in zip(cells, widths, strict=True)
    ]
    return [
        GUTTER.join(part.ljust(w) for part, w in zip(parts, widths, strict=True)).rstrip()
        for parts in zip_longest(*wrapped, fillvalue="")
    ]
