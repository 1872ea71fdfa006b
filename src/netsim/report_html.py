"""``report.html``: the run's report as one self-contained, offline HTML page.

The page renders the blocks of :func:`netsim.report.report_blocks` — the same content as
``report.md`` — with its tables as HTML tables and every PNG of the run directory embedded
as a ``data:image/png;base64`` URI.  The style sheet is inline; the page names no remote URL
and no other file, so it opens anywhere (e-mail, a USB stick, an offline browser).  Chinese
reports are ``<html lang="zh-CN">`` with a CJK font stack (Noto Sans CJK SC, Noto Sans SC).
The page is a function of the blocks and the PNG bytes: the same run gives the same bytes.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterator, Sequence
from pathlib import Path

from netsim.report import Block, Bullets, Figure, Heading, Inline, Paragraph, Span, Table

__all__ = ["render_html", "write_html"]

_FONTS = {
    "en": 'system-ui, "Segoe UI", "DejaVu Sans", sans-serif',
    "zh": '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Microsoft YaHei", '
          "sans-serif",
}
_HTML_LANG = {"en": "en", "zh": "zh-CN"}

_CSS = """
body { font-family: FONTS; margin: 2em auto; max-width: 72em; padding: 0 1.5em;
  color: #1a1a1a; line-height: 1.5; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.3em; margin-top: 1.6em; border-bottom: 1px solid #bbb; }
h3 { font-size: 1.1em; margin-top: 1.2em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .92em; }
th, td { border: 1px solid #c8c8c8; padding: .25em .6em; text-align: left;
  vertical-align: top; }
thead th { background: #eef0f2; }
tbody tr:nth-child(even) { background: #f8f9fa; }
code { font-family: "DejaVu Sans Mono", monospace; background: #f1f1f1; padding: 0 .2em; }
figure { margin: 1em 0 1.6em; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; margin-top: .3em; }
"""


def _inline(inline: Inline) -> str:
    tags = {"code": "code", "em": "em", "strong": "strong"}
    parts = (inline,) if isinstance(inline, str) else inline
    out = []
    for part in parts:
        if isinstance(part, Span) and part.style:
            tag = tags[part.style]
            out.append(f"<{tag}>{html.escape(part.text)}</{tag}>")
        else:
            out.append(html.escape(part.text if isinstance(part, Span) else part))
    return "".join(out)


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>\n"
        for row in table.rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>"


def _figure(figure: Figure, run_dir: Path) -> str:
    data = base64.b64encode((run_dir / figure.path).read_bytes()).decode("ascii")
    caption = html.escape(figure.caption)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption} (<code>{html.escape(figure.path)}</code>)</figcaption>"
            "</figure>")


def _block(block: Block, run_dir: Path) -> str:
    if isinstance(block, Heading):
        return f"<h{block.level}>{html.escape(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>\n" + "".join(f"<li>{_inline(i)}</li>\n" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block, run_dir)


def render_html(blocks: Sequence[Block], run_dir: Path, lang: str = "en") -> str:
    """The report page of ``blocks``; figures read from ``run_dir`` and embedded.

    Parameters
    ----------
    blocks
        :func:`netsim.report.report_blocks` of the run.
    run_dir
        The run directory the figures' paths are relative to.
    lang
        ``"en"`` or ``"zh"`` (``<html lang="zh-CN">`` and a CJK font stack).

    Returns
    -------
    str
        The HTML page (UTF-8 text).
    """
    return "".join(_page(blocks, run_dir, lang))


def write_html(blocks: Sequence[Block], run_dir: Path, path: Path, lang: str = "en") -> None:
    """Write :func:`render_html`'s page to ``path`` (UTF-8) a block at a time.

    Its embedded PNGs make the page ~9 MB for a run of two networks, which, built as one
    string (the blocks, their join, the page and its encoding), held ~35 MB at the very
    end of a run, when its memory peaks; written a block at a time, one figure's."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        for piece in _page(blocks, run_dir, lang):
            file.write(piece)


def _page(blocks: Sequence[Block], run_dir: Path, lang: str) -> Iterator[str]:
    """The page's text in pieces: head, the blocks one per line, tail."""
    title = next((b.text for b in blocks if isinstance(b, Heading)), "netsim report")
    css = _CSS.replace("FONTS", _FONTS.get(lang, _FONTS["en"]))
    yield (f'<!DOCTYPE html>\n<html lang="{_HTML_LANG.get(lang, "en")}">\n<head>\n'
           f'<meta charset="utf-8">\n<meta name="viewport" '
           f'content="width=device-width, initial-scale=1">\n'
           f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n</head>\n<body>\n")
    for i, block in enumerate(blocks):
        if i:
            yield "\n"
        yield _block(block, run_dir)
    yield "\n</body>\n</html>\n"
