"""The payments modules import one way (issue 12 §4): no import cycle among gridcare.payments.* modules, and
no selectors module imports a services module.

The graph is read from the source with `ast`, every import counted — at the top of a module and inside a
function alike, since a cycle hidden in a function is still a cycle; only imports under `if TYPE_CHECKING:`
(never executed, annotations only) are left out. The checks run on a small hand-built
graph first, so a broken checker cannot pass silently."""

import ast
from pathlib import Path

import gridcare.payments

ROOT = Path(gridcare.payments.__file__).parent
PACKAGE = "gridcare.payments"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE, *parts))


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of `from <level dots><target> import …` written in `module`."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([target] if target else [])])


def _runtime_nodes(tree: ast.AST):
    """Every node of `tree` except what lies under `if TYPE_CHECKING:`."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = getattr(child, "test", None)
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(test):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def import_graph() -> dict[str, set[str]]:
    """Module → the gridcare.payments modules it imports (a `from pkg import name` counts `pkg.name` when
    that is a module, else `pkg`)."""
    files = {
        _module_name(p): p
        for p in ROOT.rglob("*.py")
        if "migrations" not in p.parts and "tests" not in p.parts
    }
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(module, is_package, node.level, node.module)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files and "." in t:
                    t = t.rpartition(".")[0]  # `import a.b.c` where c is a name: the nearest module
                if t in files and t != module and t.startswith(PACKAGE + "."):
                    graph[module].add(t)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return [*stack[stack.index(n) :], n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def selectors_importing_services(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    def kind(m: str) -> str:
        return m.rpartition(".")[2]

    return sorted(
        (m, n) for m, ns in graph.items() for n in ns if kind(m) == "selectors" and kind(n) == "services"
    )


def test_the_checks_find_a_cycle_and_a_selector_importing_services():
    graph = {
        "p.collections.services": {"p.ledger.selectors"},
        "p.ledger.selectors": {"p.ledger.services"},
        "p.ledger.services": {"p.collections.services"},
    }
    assert find_cycle(graph) == [
        "p.collections.services",
        "p.ledger.selectors",
        "p.ledger.services",
        "p.collections.services",
    ]
    assert selectors_importing_services(graph) == [("p.ledger.selectors", "p.ledger.services")]
    graph["p.ledger.services"] = set()
    assert find_cycle(graph) is None


def test_the_graph_sees_relative_absolute_and_function_level_imports():
    graph = import_graph()
    # relative, at the top: `from .latefee import …`
    assert "gridcare.payments.ledger.latefee" in graph["gridcare.payments.ledger.services"]
    # absolute, across sub-packages: the ledger's payment write runs the collections hook
    assert "gridcare.payments.collections.services" in graph["gridcare.payments.ledger.services"]
    # inside a function: reconciliation's backfill pays through the gateway
    assert "gridcare.payments.channels.gateways" in graph["gridcare.payments.reconciliation.services"]


def test_payments_has_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_no_selectors_module_imports_a_services_module():
    assert selectors_importing_services(import_graph()) == []
