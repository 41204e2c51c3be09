"""The documentation runs as written: every ```python block of README.md and docs/*.md, and every
docstring example (doctest) in the fe2 package.

The blocks of one markdown file run in order, as one script in a fresh process, with the working
directory standing in for the repository root: a temporary directory holding links to the
repository's files and folders (``meshes/``, ``cases/``, ...), so a block reads ``meshes/fiber.msh``
as a user at the repository root would, and whatever it writes (``output/...``) lands in the
temporary directory. A block that starts worker processes (a process or Dask executor) is run as a
user pasting it would run it: saved as a file of its own and run with ``python file.py``, so a block
without ``if __name__ == "__main__":`` fails (each spawned worker imports the file again). A block
preceded by ``<!-- not run: reason -->`` is shown but not run.
"""

import ast
import doctest
import importlib
import importlib.util
import io
import os
import pkgutil
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

import fe2

ROOT = Path(__file__).resolve().parents[1]
OPENING = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
NOT_RUN = re.compile(r"^\s*<!--\s*not run:\s*\S.*-->\s*$")
RUNNABLE = {"python", "py"}
TIMEOUT = 300  # s per markdown file, and per block run on its own
PROCESS_STRINGS = {"processes", "dask"}  # executor names that start worker processes
PROCESS_NAMES = {"Processes", "Dask", "LocalCluster", "ProcessPoolExecutor", "multiprocessing"}


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


def starts_processes(source):
    """Whether a block's code (its comments aside) names a process or Dask executor or an address
    of a Dask scheduler: such a block starts worker processes that import the running script again."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME and token.string in PROCESS_NAMES:
            return True
        if token.type == tokenize.STRING:
            value = ast.literal_eval(token.string) if not token.string.lower().startswith(("f", "rf", "fr")) else ""
            if isinstance(value, str) and (value in PROCESS_STRINGS or re.match(r"^(tcp|tls)://", value)):
                return True
    return False


def guarded(source):
    """Whether a block has a module-level ``if __name__ == "__main__":``."""
    return any(isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
               and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"
               and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in node.test.comparators)
               for node in ast.parse(source).body)


def process_blocks():
    """(document, first line, source) of every block of README.md and docs/*.md that starts processes."""
    return [(document, start, source) for document in documents()
            for start, source in python_blocks(document.read_text(encoding="utf-8")) if starts_processes(source)]


def run_as_script(source, folder, name="block.py"):
    """Save ``source`` as ``folder/blocks/name`` and run it with ``python`` from a stand-in for the
    repository root in ``folder``, as a user who pasted it into a file would; the completed process."""
    path = folder / "blocks" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(source, encoding="utf-8")
    root = folder / "root"
    if not root.exists():
        root.mkdir()
        workspace(root)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, str(path)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def script(document):
    """One script of the blocks of ``document`` that start no processes (they run on their own), and
    the map from script lines to document lines."""
    lines, origin = [], {}
    for start, source in python_blocks(document.read_text(encoding="utf-8")):
        if starts_processes(source):
            continue
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
        return  # prose and tables only, or only blocks that run on their own
    path = tmp_path / "blocks" / (document.stem + "_blocks.py")
    run = run_as_script(source, tmp_path, path.name)
    if run.returncode:
        where = re.sub(rf'File "{re.escape(str(path))}", line (\d+)',
                       lambda m: f'{document.relative_to(ROOT)}, line {origin.get(int(m[1]), "?")}', run.stderr)
        pytest.fail(f"the python blocks of {document.relative_to(ROOT)} failed (exit {run.returncode}):\n"
                    f"{where[-6000:]}\n--- stdout ---\n{run.stdout[-2000:]}", pytrace=False)


@pytest.mark.parametrize("document, start, source", process_blocks(),
                         ids=[f"{document.relative_to(ROOT)}:{start}" for document, start, _ in process_blocks()])
def test_blocks_that_start_processes_run_as_scripts(document, start, source, tmp_path):
    """Each such block on its own, saved as a file and run with python: it must be self-contained,
    and guarded by ``if __name__ == "__main__":`` since each worker imports the file again."""
    run = run_as_script(source, tmp_path, f"{document.stem}_line_{start}.py")
    if run.returncode:
        hint = "" if guarded(source) else ' (it has no if __name__ == "__main__": guard)'
        where = re.sub(r'File "[^"]*blocks[/\\][^"]*", line (\d+)',
                       lambda m: f"{document.relative_to(ROOT)}, line {start + int(m[1]) - 1}", run.stderr)
        pytest.fail(f"the block at {document.relative_to(ROOT)}, line {start}, run as a script, failed "
                    f"(exit {run.returncode}){hint}:\n{where[-6000:]}\n--- stdout ---\n{run.stdout[-2000:]}", pytrace=False)


def test_process_blocks_are_found_and_run_on_their_own():
    """The README's FE² and RVE-size blocks start processes, so they leave the page's script and run
    as files of their own; comments that merely mention an executor do not count."""
    readme = [(start, source) for document, start, source in process_blocks() if document.name == "README.md"]
    assert any("fe2.RVELaw(" in source for _, source in readme) and any("size_study(" in source for _, source in readme)
    assert all(guarded(source) for _, source in readme)
    page, _ = script(ROOT / "README.md")
    assert all(source not in page for _, source in readme)
    assert not starts_processes('ex = fe2.parallel.executor("serial")   # or "processes", "dask"\n')
    assert starts_processes('ex = fe2.parallel.executor(address)\naddress = "tcp://host:8786"\n')
    assert starts_processes("with fe2.parallel.Processes(2) as ex:\n    pass\n")


UNGUARDED = """import concurrent.futures, math, multiprocessing
with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
    print(list(pool.map(math.sqrt, [4.0])))
"""


def test_an_unguarded_process_block_fails_as_a_script_and_a_guarded_one_runs(tmp_path):
    """What the harness relies on: run as a file, a block whose process start is not under
    ``if __name__ == "__main__":`` fails, and the same block guarded prints its answer."""
    assert starts_processes(UNGUARDED) and not guarded(UNGUARDED)
    run = run_as_script(UNGUARDED, tmp_path, "unguarded.py")
    assert run.returncode != 0 and "BrokenProcessPool" in run.stderr
    fixed = 'if __name__ == "__main__":\n' + "".join("    " + line for line in UNGUARDED.splitlines(keepends=True))
    assert guarded(fixed)
    run = run_as_script(fixed, tmp_path, "guarded.py")
    assert run.returncode == 0 and run.stdout.strip() == "[2.0]", run.stderr


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
