"""The layers of docs/ARCHITECTURE.md hold: face (ui, cli) → engines → core, read from the source.

A node is a top-level module or package of labkit (labkit/x.py or labkit/x/). Every `import` and `from … import`
counts, inside functions too, and so does `importlib.import_module("labkit.…")` with a literal name. The core
imports no engine and no face, an engine imports no face, and no nodes import each other, directly or round a
longer cycle. A new top-level module must be placed in one of the three layers here."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "labkit"
FACE = {"ui", "cli"}
ENGINES = {
    "train",
    "evaluate",
    "provenance",
    "support",
    "doctrans",
    "data",
    "dmoe",
    "scaling",
    "synth",
    "experiment",
}
CORE = {
    "backends",
    "clitools",
    "config",
    "errors",
    "execution",
    "guard",
    "hfjobs",
    "hub",
    "jobs",
    "jsonl",
    "kvcache",
    "languages",
    "models",
    "plotstyle",
    "settings",
    "spaces",
    "store",
    "text",
    "warm",
    "zerogpu",
}
RANK = {**{n: 0 for n in CORE}, **{n: 1 for n in ENGINES}, **{n: 2 for n in FACE}}
LAYER = {0: "core", 1: "engine", 2: "face"}


def nodes(root: Path = ROOT) -> set[str]:
    return {p.stem for p in root.glob("*.py") if p.stem != "__init__"} | {
        p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()
    }


def _module(path: Path, root: Path) -> list[str]:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _targets(node: ast.AST, path: Path, root: Path) -> list[str]:
    """The dotted modules (or module.name) an AST node imports."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            package = _module(path, root)
            package = package if path.name == "__init__.py" else package[:-1]
            base = package[: len(package) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        return [module] + [f"{module}.{a.name}" for a in node.names]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, (ast.Attribute, ast.Name))
        and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def edges(root: Path = ROOT) -> dict[tuple[str, str], list[str]]:
    """(importer, imported) → where: 'file:line' of each import between two different nodes."""
    known = nodes(root)
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        mod = _module(path, root)
        if len(mod) < 2:  # labkit/__init__.py: the package itself, above the layers
            continue
        src = mod[1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, path, root):
                parts = target.split(".")
                if len(parts) > 1 and parts[0] == "labkit" and parts[1] in known and parts[1] != src:
                    where = f"{path.relative_to(root.parent)}:{node.lineno}"
                    seen = found.setdefault((src, parts[1]), [])
                    if where not in seen:
                        seen.append(where)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def problems(root: Path = ROOT) -> list[str]:
    found = edges(root)
    out = [f"labkit/{n} is in no layer: add it to FACE, ENGINES or CORE" for n in sorted(nodes(root) - set(RANK))]
    for (src, dst), where in sorted(found.items()):
        if src in RANK and dst in RANK and RANK[src] < RANK[dst]:
            out.append(f"{LAYER[RANK[src]]} {src} imports {LAYER[RANK[dst]]} {dst}: {', '.join(where)}")
    graph: dict[str, set[str]] = {}
    for src, dst in found:
        graph.setdefault(src, set()).add(dst)
    for comp in cycles(graph):
        inside = [f"{s}→{d} ({found[s, d][0]})" for s, d in sorted(found) if s in comp and d in comp]
        out.append(f"import cycle {' <-> '.join(comp)}: {'; '.join(inside)}")
    return out


def test_the_layers_hold():
    found = problems()
    assert not found, "\n".join(found)


def test_the_check_sees_imports_inside_functions_and_cycles(tmp_path):
    """A hand-made tree: core→engine and engine→face imports inside functions, a cycle of two engines (one side
    relative, the other through importlib)."""
    pkg = tmp_path / "labkit"
    for folder in ("train", "evaluate", "data", "ui"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "config.py").write_text("def f():\n    from labkit.train import recipe\n")
    (pkg / "train" / "recipe.py").write_text("from ..evaluate import runner\n")
    (pkg / "evaluate" / "runner.py").write_text("import importlib\nimportlib.import_module('labkit.train.recipe')\n")
    (pkg / "data" / "report.py").write_text("def g():\n    from labkit.ui import app\n")
    (pkg / "ui" / "app.py").write_text("from labkit import config, train\n")
    found = "\n".join(problems(pkg))
    assert "core config imports engine train: labkit/config.py:2" in found
    assert "engine data imports face ui: labkit/data/report.py:2" in found
    assert "import cycle evaluate <-> train: evaluate→train (labkit/evaluate/runner.py:2); train→evaluate" in found
    assert len(found.splitlines()) == 3  # a face may import what lies below it


def test_engines_register_their_pieces_and_the_registry_imports_none():
    """The training registry knows DMoE's stage methods only once labkit.dmoe is imported, and a dmoe run's job
    starts DMoE's entry point, which registers them in the new process."""
    code = """
import sys
from labkit.train import launch, methods, recipe
assert "dmoe-stage1" not in methods.METHODS and "labkit.dmoe" not in sys.modules
import labkit.dmoe
r = recipe.load("configs/train/dmoe-stage1-tiny.yaml")
assert launch.worker_command(r, "x/recipe.yaml")[1:3] == ["-m", "labkit.dmoe.worker"], launch.worker_command(r, "x")
r = recipe.load("configs/train/sft-tiny.yaml")
assert launch.worker_command(r, "x/recipe.yaml")[1:3] == ["-m", "labkit.train.worker"]
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT.parent, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-c", "import labkit.dmoe.worker, labkit.train.methods as m; print(sorted(m.METHODS))"],
        cwd=ROOT.parent,
        capture_output=True,
        text=True,
    )
    assert "dmoe-stage2" in done.stdout, done.stderr
