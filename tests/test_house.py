"""The house's walls (issue 20): no import loop inside riskmap, function-level imports included; no module reaches
into another's underscore names; every module imports on its own.

Read from the source with `ast` (imports under `if TYPE_CHECKING:` are for the type checker and do not count), so
a loop that only shows at run time, when a function first runs, is found too.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "riskmap"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "migrations" not in p.parts}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes of a module at any depth, except those under `if TYPE_CHECKING:`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            stack.append(child)


def _resolve(current: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    if MODULES[current].name != "__init__.py":
        base = base[:-1]
    base = base[:len(base) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def import_edges() -> dict[str, set[str]]:
    """module → the riskmap modules it imports (a name imported from a package is the submodule when one exists)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        out: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.split(".")[0] == "riskmap")
                continue
            source = _resolve(name, node)
            if source.split(".")[0] != "riskmap":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in MODULES else source)
        out.discard(name)
        edges[name] = {m for m in out if m in MODULES}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))
    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_loop_inside_riskmap():
    edges = import_edges()
    # a package importing its own submodules is how a package exposes them, not a loop of two rooms
    for name in list(edges):
        edges[name] = {m for m in edges[name] if not m.startswith(name + ".")}
    assert cycles(edges) == []


def private_uses() -> list[str]:
    """`from riskmap.x import _name` and `module._name` of another riskmap module."""
    found = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases: dict[str, str] = {}
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("riskmap"):
                        aliases[a.asname or a.name.split(".")[0]] = a.name
                continue
            source = _resolve(name, node)
            if source.split(".")[0] != "riskmap":
                continue
            for a in node.names:
                sub = f"{source}.{a.name}"
                if sub in MODULES:
                    aliases[a.asname or a.name] = sub
                elif a.name.startswith("_") and source != name:
                    found.append(f"{name} imports {source}.{a.name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__") \
                    and isinstance(node.value, ast.Name) and node.value.id in aliases \
                    and aliases[node.value.id] != name:
                found.append(f"{name} uses {aliases[node.value.id]}.{node.attr}")
    return sorted(set(found))


def test_no_module_reaches_into_another_modules_underscore_names():
    assert private_uses() == []


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m.count(".") <= 1 and not m.endswith("__main__")))
def test_each_module_imports_on_its_own(name):
    """In a fresh interpreter, so that an import that only works after another module was imported shows."""
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_every_module_imports_in_this_process():
    for name in MODULES:
        if not name.endswith("__main__"):               # that one runs the command line
            importlib.import_module(name)


def test_app_singleton_makers_may_ask_for_another_singleton():
    """The tiles' maker asks for the store: a nested first use must not wait on itself."""
    import threading
    from types import SimpleNamespace

    from riskmap.api.deps import app_singleton

    app = SimpleNamespace(state=SimpleNamespace())
    got = []
    worker = threading.Thread(target=lambda: got.append(
        app_singleton(app, "outer", lambda: ("outer", app_singleton(app, "inner", lambda: "inner")))), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert got == [("outer", "inner")] and app.state.inner == "inner"


def test_every_json_route_declares_what_it_answers(tmp_path):
    """A route that answers JSON names a pydantic model (not a bare dict): the API description then lists the
    fields a client may rely on."""
    from fastapi.routing import APIRoute
    from pydantic import BaseModel

    from riskmap.api import app as app_module

    loose = []
    for module in app_module.ROUTER_MODULES:
        name = module.__name__.rsplit(".", 1)[-1]
        for route in module.make_router().routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            response_class = getattr(route.response_class, "value", route.response_class)   # the default's
            answers_json = response_class.__name__.endswith("JSONResponse")
            model = route.response_model
            declared = isinstance(model, type) and issubclass(model, BaseModel) or \
                getattr(model, "__origin__", None) is list
            if answers_json and not declared and route.status_code != 204:
                loose.append(f"{','.join(sorted(route.methods))} {route.path} ({name}): {model!r}")
    assert not loose, "\n".join(loose)
