"""The documentation runs as written: every ```python block of README.md and docs/*.md, and every
docstring example (doctest) in the fe2 package.

The blocks of one markdown file run in order, as one script in a fresh process, with the working
directory standing in for the repository root: a temporary directory holding links to the
repository's files and folders (``meshes/``, ``cases/``, ...), so a block reads ``meshes/fiber.msh``
as a user at the repository root would, and whatever it writes (``output/...``) lands in the
temporary directory. A block preceded by ``<!-- not run: reason -->`` is shown but not run.
"""

import doctest
import importlib
import importlib.util
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fe2

ROOT = Path(__file__).resolve().parents[1]
OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*\S.*-->\s*$")
RUNNABLE = {"python", "py"}
TIMEOUT = 300  # s per markdown file


def documents():
    """README.md and every docs/*.md, found anew each run so that new pages are covered."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def python_blocks(text):
    """The ```python blocks of a markdown text as (first line number, source), in order, dedented by
    the fence's indentation; blocks right after a ``<!-- not run: reason -->`` line are left out."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = OPENING.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        previous = next((line for line in reversed(lines[:i]) if line.strip()), "")
        body, i = [], i + 1
        start = i + 1  # 1-based number of the block's first line
        while i < len(lines) and not re.match(rf"^\s*{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[i]):
            line = lines[i]
            body.append(line[min(indent, len(line) - len(line.lstrip())):])
            i += 1
        i += 1  # the closing fence
        if opening["info"].lower() in RUNNABLE and not NOT_RUN.match(previous):
            blocks.append((start, "\n".join(body) + "\n"))
    return blocks


def script(document):
    """One script of all the blocks of ``document``, and the map from script lines to document lines."""
    lines, origin = [], {}
    for start, source in python_blocks(document.read_text(encoding="utf-8")):
        lines.append(f"# --- {document.name}, line {start}")
        for k, line in enumerate(source.splitlines()):
            lines.append(line)
            origin[len(lines)] = start + k
    return "\n".join(lines) + "\n", origin


def workspace(tmp_path):
    """A stand-in for the repository root in ``tmp_path``: links to its entries, but its own output/."""
    for entry in ROOT.iterdir():
        if entry.name.startswith(".") or entry.name in {"output", "build"} or entry.name.endswith(".egg-info"):
            continue
        (tmp_path / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return tmp_path


@pytest.mark.parametrize("document", documents(), ids=lambda path: str(path.relative_to(ROOT)))
def test_markdown_blocks_run(document, tmp_path):
    source, origin = script(document)
    if not origin:
        return  # prose and tables only: nothing to run
    path = tmp_path / "blocks" / (document.stem + "_blocks.py")
    path.parent.mkdir()
    path.write_text(source, encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    root = tmp_path / "root"
    root.mkdir()
    run = subprocess.run([sys.executable, str(path)], cwd=workspace(root), env=env, capture_output=True, text=True,
                         timeout=TIMEOUT)
    if run.returncode:
        where = re.sub(rf'File "{re.escape(str(path))}", line (\d+)',
                       lambda m: f'{document.relative_to(ROOT)}, line {origin.get(int(m[1]), "?")}', run.stderr)
        pytest.fail(f"the python blocks of {document.relative_to(ROOT)} failed (exit {run.returncode}):\n"
                    f"{where[-6000:]}\n--- stdout ---\n{run.stdout[-2000:]}", pytrace=False)


def test_block_extraction():
    """Fences in list items, other languages, the not-run marker and longer fences are read right."""
    text = "\n".join([
        "text", "```python", "a = 1", "```",
        "- item", "  ```python", "  b = a + 1", "  ```",
        "```bash", "fe2 --help", "```",
        "<!-- not run: needs a cluster -->", "```python", "raise SystemExit(1)", "```",
        "````python", "s = '```'", "````", "```", "plain", "```"])
    assert python_blocks(text) == [(3, "a = 1\n"), (7, "b = a + 1\n"), (17, "s = '```'\n")]


def doctest_modules():
    """The fe2 modules whose source holds a docstring example (``>>>``); __main__ is never imported."""
    names = []
    for info in pkgutil.walk_packages(fe2.__path__, "fe2."):
        if info.name.endswith("__main__"):
            continue
        spec = importlib.util.find_spec(info.name)
        if spec.origin and ">>>" in Path(spec.origin).read_text(encoding="utf-8"):
            names.append(info.name)
    return names


@pytest.mark.parametrize("name", doctest_modules())
def test_doctests(name):
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder().find(module, name)
    assert any(test.examples for test in tests), f"{name} mentions >>> but has no doctest"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    failed = sum(runner.run(test, out=report.append).failed for test in tests)
    assert failed == 0, "".join(report)
