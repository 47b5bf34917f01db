"""Templates stay within the Content-Security-Policy: no inline script, no on…= handler, no inline style.

The policy (settings.CONTENT_SECURITY_POLICY) allows scripts and styles from our static files only, so any of
these in a template is refused by the browser. Data for scripts goes through `json_script` (a
`<script type="application/json">` block is not executed) or data- attributes.
"""

import re
from pathlib import Path

import pytest

import gridcare

PACKAGE = Path(gridcare.__file__).resolve().parent

# Rendered only by WeasyPrint into PDF files (billing.ebill.ebill_pdf, billing.einvoice.invoice_pdf,
# outages.review.review_pdf), never
# served to a browser, so no CSP applies; they must stay self-contained (WeasyPrint fetches no URL) and their
# bars are sized per bill, hence the inline styles.
PDF_ONLY = {
    "billing/ebill_print.html": "billing/ebill.py",
    "billing/einvoice_print.html": "billing/einvoice.py",
    "outages/review_pdf.html": "outages/review.py",
}

SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.I | re.S)
HANDLER = re.compile(r"""\son[a-z]+\s*=\s*["'{]""", re.I)
STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*["'{]""", re.I)
STYLE_ELEMENT = re.compile(r"<style\b", re.I)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']\s*javascript:""", re.I)


def _templates() -> list[tuple[str, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("templates/**/*.html")):
        rel = path.relative_to(PACKAGE).as_posix()
        name = rel.split("templates/", 1)[1]
        if name in PDF_ONLY:
            continue
        found.append((rel, path.read_text(encoding="utf-8")))
    return found


TEMPLATES = _templates()


def test_the_scan_sees_the_templates():
    names = {rel for rel, _ in TEMPLATES}
    # The frame of every page, the portal's frame and the error pages' frame are among them.
    assert {"templates/base.html", "portal/templates/portal/base.html", "templates/error_base.html"} <= names
    assert len(TEMPLATES) > 50


def _inline_scripts(text: str) -> list[str]:
    bad = []
    for attrs, body in SCRIPT.findall(text):
        if re.search(r"""\ssrc\s*=""", attrs, re.I) and not body.strip():
            continue
        if re.search(r"""\stype\s*=\s*["']application/(ld\+)?json["']""", attrs, re.I):
            continue
        bad.append(f"<script{attrs}>{body.strip()[:60]}")
    return bad


@pytest.mark.parametrize(("rel", "text"), TEMPLATES, ids=[rel for rel, _ in TEMPLATES])
def test_template_has_no_inline_script_handler_or_style(rel, text):
    problems = _inline_scripts(text)
    problems += [f"handler {m.group(0).strip()}" for m in HANDLER.finditer(text)]
    problems += [f"style attribute {m.group(0).strip()}" for m in STYLE_ATTR.finditer(text)]
    problems += ["<style> element" for _ in STYLE_ELEMENT.finditer(text)]
    problems += [f"javascript: URL {m.group(0)}" for m in JS_URL.finditer(text)]
    assert not problems, f"{rel}: move to src/gridcare/static/gridcare/ (CSP): {problems}"


def test_the_checks_catch_what_they_are_for():
    """Each pattern above finds the thing it is for, and lets the allowed forms through."""
    assert _inline_scripts("<script>alert(1)</script>")
    assert _inline_scripts('<script src="/static/x.js">alert(1)</script>')
    assert not _inline_scripts("<script src=\"{% static 'gridcare/page.js' %}\" defer></script>")
    assert not _inline_scripts('<script type="application/json" id="d">{"a": 1}</script>')
    assert HANDLER.search('<button type="button" onclick="window.print()">')
    assert HANDLER.search("<form onsubmit='return confirm(1)'>")
    assert not HANDLER.search('<p>button data-print</p><input name="online">')
    assert STYLE_ATTR.search('<div style="display:flex">')
    assert not STYLE_ATTR.search('<div class="row-between" data-style="x">')
    assert STYLE_ELEMENT.search("<style>.a{}</style>")
    assert JS_URL.search('<a href="javascript:void(0)">')


def test_python_code_writes_no_inline_script_or_style_into_html():
    """HTML built in Python (format_html, mark_safe) obeys the same policy as templates."""
    pattern = re.compile(r"""<script\b(?![^>]*\bsrc=)|<style\b|\sstyle=["']|\son[a-z]+=["']""", re.I)
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        # The channel simulator (channelsim) is not GridCare: a stand-in for Alipay's and WeChat's own pages,
        # served by its own process on its own origin, outside GridCare's Content-Security-Policy.
        if "migrations" in path.parts or "channelsim" in path.parts:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert not offenders, offenders


@pytest.mark.parametrize("name", sorted(PDF_ONLY))
def test_pdf_only_templates_are_rendered_only_into_pdf(name):
    """The exemption above holds only while no view serves these templates as a page."""
    users = sorted(
        str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py") if name in p.read_text(encoding="utf-8")
    )
    assert users == [PDF_ONLY[name]]
