"""The pre-evaluation report as PDF, rendered by WeasyPrint from the report's static page.

WeasyPrint lays the page out itself (HTML, CSS paged media with page numbers, inline SVG) in this process:
no browser to start, nothing fetched — the page carries its stylesheet and its subset font inline, and any
other URL is refused. It is CPU work of a few hundred milliseconds: callers run it in a worker thread,
without a database connection (see app/preevaluation/printed.py).
"""

from __future__ import annotations


def render_pdf(page: str) -> bytes:
    """A4 PDF of a static report page (fonts embedded as subsets, with their Unicode maps)."""
    # Imported here: it loads Pango through cffi, which only PDF requests need.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # data: URLs only (the page's own font): no file, no network.
    fetcher = URLFetcher(allowed_protocols={"data"}, fail_on_errors=True)
    document = HTML(string=page, url_fetcher=fetcher).render()
    pdf: bytes = document.write_pdf()
    return pdf
