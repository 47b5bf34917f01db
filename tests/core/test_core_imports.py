"""core sits under every domain app (issue 12 §4, "one scoping rule"): besides itself it may import only org
(the unit tree, users and their tokens, which every app depends on) and the job engine it registers its
housekeeping kind with; no other gridcare app. Read from the source with `ast`, imports inside functions
included (a lazy import is still a dependency)."""

import ast
from pathlib import Path

import gridcare.core

CORE = Path(gridcare.core.__file__).parent
ALLOWED = {"core", "org", "jobs"}


def gridcare_apps_imported(source: str) -> set[str]:
    """The gridcare apps (second component of the dotted name) a module's absolute imports name."""
    apps = set()
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        apps.update(n.split(".")[1] for n in names if n.startswith("gridcare.") and n.count(".") >= 1)
    return apps


def test_the_reader_sees_top_level_and_lazy_imports():
    source = (
        "from gridcare.customers import selectors\n"
        "import gridcare.billing.runs\n"
        "from . import masking\n"
        "def f():\n    from gridcare.payments.ledger import services\n"
    )
    assert gridcare_apps_imported(source) == {"customers", "billing", "payments"}


def test_core_imports_no_domain_app():
    offenders = {
        str(path.relative_to(CORE)): sorted(gridcare_apps_imported(path.read_text()) - ALLOWED)
        for path in CORE.rglob("*.py")
        if "migrations" not in path.parts
    }
    assert {k: v for k, v in offenders.items() if v} == {}
