"""A sandbox's home page: what the service holds, with links to its pages.

The demo prints each sandbox's root address; a person who opens it sees the shop's, store's or
supplier's orders instead of a 404 or a 401. Plain escaped HTML, no assets: the same small page
for every sandbox (each passes its own title and rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import escape

STYLE = ("body{margin:0;font:15px/1.5 -apple-system,'Segoe UI',Roboto,sans-serif;color:#202223;"
         "background:#f6f6f7}main{max-width:960px;margin:0 auto;padding:16px}"
         "h1{font-size:22px}table{width:100%;border-collapse:collapse;background:#fff}"
         "th,td{text-align:left;padding:8px;border-bottom:1px solid #e1e3e5}"
         ".muted{color:#6d7175}")


@dataclass(frozen=True)
class Row:
    cells: tuple[str, ...]
    link: str = ""  # the first cell links here when set


def home_page(title: str, intro: str, headings: Sequence[str], rows: Sequence[Row],
              empty: str) -> str:
    """The whole page; every value is escaped."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = []
    for row in rows:
        cells = [str(escape(c)) for c in row.cells]
        if row.link and cells:
            cells[0] = f'<a href="{escape(row.link)}">{cells[0]}</a>'
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    table = (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
             if body else f'<p class="muted">{escape(empty)}</p>')
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body><main>"
            f"<h1>{escape(title)}</h1><p class=\"muted\">{escape(intro)}</p>{table}"
            f"</main></body></html>")
