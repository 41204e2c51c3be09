"""The package's layout keeps its promises: the cell kernel needs no output code, and no module
reaches into another's private names."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "fe2"


def modules():
    """{dotted module name: parsed source} of every module of fe2."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = (path, ast.parse(path.read_text()))
    return found


def imports(name, tree, is_package):
    """(imported module, imported names) of every import statement of module ``name``, relative ones resolved."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module, tuple(alias.name for alias in node.names)


MODULES = modules()


def graph():
    """Module -> the fe2 modules and outside top-level packages it imports (a package import runs
    its __init__; 'from package import submodule' imports the submodule)."""
    edges = {}
    for name, (path, tree) in MODULES.items():
        targets = set()
        for module, names in imports(name, tree, path.name == "__init__.py"):
            parts = module.split(".")
            for k in range(1, len(parts) + 1):    # importing a.b.c imports a and a.b first
                targets.add(".".join(parts[:k]))
            targets.update(f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES)
        edges[name] = targets
    return edges


def reachable(start, edges):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        for target in edges.get(name, ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@pytest.mark.parametrize("name", sorted(n for n in MODULES if n.startswith("fe2.cell")))
def test_the_cell_kernel_imports_no_output_code(name):
    """Importing a module of fe2.cell (apart from the package fe2 itself, whose __init__ gathers
    the public API) reaches neither meshio nor fe2.io."""
    edges = graph()
    edges["fe2"] = set()            # the top-level namespace is not part of the kernel
    reached = reachable(name, edges)
    assert not {m for m in reached if m == "meshio" or m.startswith("fe2.io")}, sorted(reached)


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for name, (path, tree) in MODULES.items():
        for module, names in imports(name, tree, path.name == "__init__.py"):
            if not module.startswith("fe2"):
                continue
            offenders += [f"{path.relative_to(PACKAGE.parent)}: {n} from {module}" for n in names
                          if n.startswith("_") and not n.startswith("__")]
    assert not offenders, offenders
