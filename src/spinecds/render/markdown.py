"""Markdown writer: real headings, lists and pipe tables, for wikis, tickets and notes that
render Markdown. Line breaks are left to the viewer, so nothing is wrapped here."""

from __future__ import annotations

from spinecds.render.common import Block, Bullets, Entry, Heading, Para, Table

__all__ = ["render_markdown"]


def render_markdown(blocks: list[Block]) -> str:
    """Blocks separated by one blank line, as CommonMark and GitHub expect."""
    return "\n\n".join(_block(b) for b in blocks) + "\n"


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Para):
        return f"**{block.text}**" if block.strong else block.text
    if isinstance(block, Bullets):
        return _bullets(block)
    if isinstance(block, Entry):
        return _entry(block)
    return _table(block)


def _bullets(bullets: Bullets) -> str:
    lines = []
    for i, item in enumerate(bullets.items, start=1):
        mark = f"{i}. " if bullets.numbered else "- "
        lines.append(f"{mark}{item}")
        lines += [f"{' ' * len(mark)}- {child}" for child in bullets.sub(i - 1)]
    return "\n".join(lines)


def _entry(entry: Entry) -> str:
    lines = [f"- **{entry.title}**"]
    lines += [
        f"  - *{label}:* {value}" if label else f"  - {value}" for label, value in entry.details
    ]
    return "\n".join(lines)


def _cell(text: str) -> str:
    """A pipe or a line break inside a cell would end the cell or the table."""
    return " ".join(text.split()).replace("|", "\\|")


def _table(table: Table) -> str:
    lines = [
        "| " + " | ".join(_cell(h) for h in table.headers) + " |",
        "|" + "|".join(" --- " for _ in table.headers) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)
