"""The layout holds: model_runtime's imports run one way (no import circle, and no
function-local import of one of its own modules, which would only hide a circle); heavy
optional packages (torch, transformers, fastapi) stay lazy; every operator and panel module
says in its docstring what it holds."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = "model_runtime"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> list[str]:
    """The model_runtime modules an import statement executes (the named module and the
    packages above it that the importer is not itself inside)."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            stem = ".".join(base + ([node.module] if node.module else []))
        else:
            stem = node.module or ""
        # "from package import name" imports the submodule when there is one.
        targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in known else stem for alias in node.names]
    else:
        return []
    executed = []
    for target in targets:
        parts = target.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in known and name != module and not module.startswith(name + "."):
                executed.append(name)
    return executed


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """``{module: modules it imports}`` (function-local imports included) and the
    function-local imports of model_runtime modules as 'module:line imports target'."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    local_imports = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            targets = _imported(node, name, path.name == "__init__.py", known)
            graph[name].update(targets)
            if targets and id(node) not in top_level and not _inside_type_checking(tree, node):
                local_imports.append(f"{name}:{node.lineno} imports {', '.join(targets)}")
    return graph, local_imports


def _inside_type_checking(tree: ast.Module, node: ast.AST) -> bool:
    for block in tree.body:
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test):
            if any(child is node for child in ast.walk(block)):
                return True
    return False


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_model_runtime_has_no_import_circle():
    graph, _ = _graph()
    assert len(graph) > 30, "the graph should cover every module"
    cycle = _find_cycle(graph)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_no_function_local_import_of_our_own_modules():
    _, local_imports = _graph()
    assert local_imports == [], (
        "function-local imports of model_runtime modules (import at the top; if that makes a circle, "
        "move the shared types to a module both import): " + "; ".join(local_imports))


def test_the_checker_sees_a_circle_hidden_in_a_function():
    """The checker itself: a circle closed by a function-local import is still a circle."""
    graph = {"a": {"b"}, "b": set()}
    assert _find_cycle(graph) is None
    tree_b = ast.parse("def f():\n    from .a import x\n")
    known = {"pkg", "pkg.a", "pkg.b"}
    local = [target for node in ast.walk(tree_b) for target in _imported(node, "pkg.b", False, known)]
    assert local == ["pkg.a"]
    assert _find_cycle({"pkg.a": {"pkg.b"}, "pkg.b": set(local)}) == ["pkg.a", "pkg.b", "pkg.a"]


def test_importing_the_whole_runtime_loads_no_heavy_package():
    modules = " ".join(f"import {name};" for name in _modules() if not name.endswith("__main__"))
    probe = (f"import sys; {modules} "
             "print(','.join(sorted(m for m in ('torch', 'transformers', 'fastapi', 'uvicorn', 'bpy') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_every_operator_and_panel_module_says_what_it_holds():
    root = ROOT.parent
    missing = [str(path.relative_to(root)) for folder in ("operators", "panels") for path in sorted((root / folder).glob("*.py"))
               if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))]
    assert missing == []
