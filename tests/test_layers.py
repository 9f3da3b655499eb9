"""The package's layers (docs/architecture.md): every `edgebnn` module belongs to one layer of
LAYERS, imports only modules of its own layer or lower ones, and no two modules import each
other, directly or round a longer loop. The imports are read with `ast` from every
edgebnn/**/*.py, those inside functions included (the lazy imports that keep the CLI quick are
still dependencies); `if TYPE_CHECKING:` imports count for the layers but not for cycles, since
they never run.

Placement of the small modules, and why:
- `edgebnn` (the package: its version), `errors` (the exception root and the one atomic file
  writer), `flags` (the argparse types of the numeric flags, which the subcommands of cli,
  device and bench share), `format` (the `.ebnn` file-format spec) and `model_checks` (the C
  loader's checks, which the reader applies) import nothing of edgebnn above them, so
  everything may use them.
- `reference` (the NumPy interpreter of `.ebnn` files) and `native` (the C core's binding, with
  the compiled `_native`) read only the format; export (header validation, ONNX checks),
  device training and the backends run models on them, so they sit low, not above export.
- `runs` (run folder, TrainConfig, Provenance) is below both `export` and `train`: train writes
  runs, export and the backends read them, and neither needs the other for that.
- `export` and `ondevice` share a layer: the exporter writes a local chain's `trnl` section
  (ondevice.local), and ondevice.drtp exports the untrained chain it trains; the module order
  inside the layer is kept acyclic by the cycle check.
- `train` is above `export`: the runner reports the exported size of every run, and the
  `--algo local` trainer runs the integer update of ondevice.local; nothing below imports it.
- `device` (the host side of boards and firmware: ports, client, flash, on-device training,
  the `device`/`board` subcommands) runs on native and reads runs.
- `backends` (where `edgebnn eval` runs a model: torch, native, onnx or a board), `bench` and
  `bench_arm` (which benchmark the C core on the host and on emulated boards) use device, so
  they sit above it and below the command line.
- `fleet` (boards as Flower clients, the integer merge, the `fleet` subcommand) drives boards
  through device and merges ondevice state; only the command line imports it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "edgebnn"

#: Low to high; a module belongs to the layer of the longest prefix naming it (the root
#: package `edgebnn` names only itself: a new top-level module has to be placed here).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("edgebnn", "edgebnn.errors", "edgebnn.flags", "edgebnn.format",
                    "edgebnn.model_checks", "edgebnn.signing")),
    ("engines", ("edgebnn.reference", "edgebnn.native", "edgebnn._native")),
    ("data", ("edgebnn.data",)),
    ("models", ("edgebnn.nn", "edgebnn.models")),
    ("runs", ("edgebnn.runs",)),
    ("export", ("edgebnn.export", "edgebnn.ondevice")),
    ("train", ("edgebnn.train",)),
    ("device", ("edgebnn.device", "edgebnn.signing_cli")),
    ("tools", ("edgebnn.backends", "edgebnn.bench", "edgebnn.bench_arm")),
    ("fleet", ("edgebnn.fleet",)),
    ("cli", ("edgebnn.cli",)),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, typing_only: bool = False):
    """(import node, under `if TYPE_CHECKING:`) for every import in the tree."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, typing_only
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from _imports(ast.Module([child], []), True)
            for child in node.orelse:
                yield from _imports(ast.Module([child], []), typing_only)
        else:
            yield from _imports(node, typing_only)


def imported(name: str, path: Path, known: set[str]) -> list[tuple[str, bool]]:
    """(module, typing only) for each edgebnn module that `name` imports. `from P import X`
    imports P.X when that is a module, else P; a package outside the importer's own packages
    counts too, since importing P.X runs P's __init__ first."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node, typing_only in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([node.module] if node.module else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        for target in targets:
            if not (target == "edgebnn" or target.startswith("edgebnn.")):
                continue
            parts = target.split(".")
            for i in range(2, len(parts) + 1):   # the packages on the way, then the module
                step = ".".join(parts[:i])
                if name != step and not name.startswith(step + "."):
                    found.append((step, typing_only))
    return found


def graph() -> dict[str, set[tuple[str, bool]]]:
    mods = modules()
    known = set(mods) | {"edgebnn._native"}   # the compiled extension
    return {name: set(imported(name, path, known)) for name, path in mods.items()}


def layer_of(module: str) -> int | None:
    best, layer = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            within = module.startswith(prefix + ".") and prefix != "edgebnn"
            if (module == prefix or within) and len(prefix) > best:
                best, layer = len(prefix), index
    return layer


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def imports() -> dict[str, set[tuple[str, bool]]]:
    return graph()


def test_the_walk_sees_lazy_and_relative_imports(imports):
    # cli imports train only inside its command functions; data/__init__ imports .spec
    assert ("edgebnn.train", False) in imports["edgebnn.cli"]
    assert ("edgebnn.data.spec", False) in imports["edgebnn.data"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_module_has_a_layer(imports):
    unplaced = sorted(m for m in set(imports) | {t for ts in imports.values() for t, _ in ts}
                      if layer_of(m) is None)
    assert not unplaced, f"modules in no layer of LAYERS (add them there): {unplaced}"


def test_no_import_goes_up_a_layer(imports):
    upward = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
              for m, targets in sorted(imports.items()) for t, _ in sorted(targets)
              if layer_of(t) is not None and layer_of(m) is not None
              and layer_of(t) > layer_of(m)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(upward)


def test_no_import_cycle(imports):
    runtime = {m: {t for t, typing_only in targets if not typing_only}
               for m, targets in imports.items()}
    loops = cycles(runtime)
    assert not loops, "modules importing each other round a loop:\n" + "\n".join(
        ", ".join(c) for c in loops)
