"""Markdown as a person reads it in a plain message box (no Tk here: testable alone).

The bundled README files are Markdown, hard-wrapped at 90 columns. A message box
shows text as given, so the raw file reads as ``## default_model.npz``, backticks, and
sentences broken in the middle of the box. :func:`markdown_to_text` turns the small
subset those files use into plain paragraphs: headings become their text, wrapped
lines of one paragraph or one bullet are joined, bullets become "•", code spans lose
their backticks, links keep their address in brackets, and indented code blocks stay
as they are.
"""

from __future__ import annotations

import re

_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_BULLET = re.compile(r"^\s*[-*+]\s+")


def _inline(text: str) -> str:
    text = _LINK.sub(lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\1", text)
    return text.replace("`", "")


def markdown_to_text(markdown: str) -> str:
    """Plain text of ``markdown``: paragraphs separated by blank lines, one line each."""
    blocks: list[str] = []
    current: list[str] = []
    kind = None  # "para", "bullet" or "code"

    def flush():
        nonlocal current, kind
        if current:
            if kind == "code":
                blocks.append("\n".join(current))
            else:
                blocks.append(_inline(" ".join(part.strip() for part in current)))
        current, kind = [], None

    for line in markdown.splitlines():
        if not line.strip():
            flush()
            continue
        if line.startswith("#"):
            flush()
            blocks.append(_inline(line.lstrip("#").strip()))
            continue
        if line.startswith("    ") and kind in (None, "code"):
            kind = "code"
            current.append(line.strip())
            continue
        if _BULLET.match(line):
            flush()
            kind = "bullet"
            current = ["\u2022 " + _BULLET.sub("", line)]
            continue
        if kind == "code":
            flush()
        if kind is None:
            kind = "para"
        current.append(line)
    flush()
    out: list[str] = []
    for block in blocks:  # bullets of one list sit on consecutive lines
        if out and block.startswith("\u2022 ") and out[-1].startswith("\u2022 "):
            out[-1] += "\n" + block
        else:
            out.append(block)
    return "\n\n".join(out)
