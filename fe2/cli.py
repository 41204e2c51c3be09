"""The ``fe2`` command: homogenize a meshed cell, run a case script, rebuild a run's report.

    fe2 homogenize meshes/fiber.msh --materials materials.toml --bc all
    fe2 run cases/plate_with_hole.py --steps 5 --out output/plate
    fe2 report output/plate

Exit codes: 0 done, 1 the computation failed, 2 bad usage or input (a missing or unreadable file,
a materials file that does not fit the mesh, an argument a case refuses, ...). The library refuses
bad input with ValueError or TypeError (its checks run before any work), while a computation that
fails raises something else (a Newton that diverges, a singular matrix: RuntimeError,
numpy.linalg.LinAlgError), so the exception's type gives the exit code, whichever command or case
raised it; docs/errors.md lists each class of bad input with its message. Errors are one line on
stderr, a case's usage errors included; ``-v`` shows the full traceback, ``-q`` prints nothing but
errors. Python warnings (e.g. fe2.materials.law.StrainRangeWarning) are one line on stderr too,
"fe2 warning: ...". The library's log (see fe2.logs; e.g. a case's macro Newton iterations) goes
to stdout like the rest; with ``-q``, only its errors, on stderr.
"""

import argparse
import contextlib
import json
import logging
import os
import runpy
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

from . import logs
from .io.checkpoint import CheckpointError
from .io.files import FolderInUse

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class InputError(Exception):
    """Bad input: reported in one line, exit code 2."""


# bad input, exit code 2: these (a run folder in use, a checkpoint that cannot be continued, ...),
# and every ValueError or TypeError but a failed linear solve
USAGE_ERRORS = (InputError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError,
                FolderInUse, CheckpointError)


def exit_code(error):
    """The exit code of an exception: 2 for bad input, 1 for a computation that failed."""
    if isinstance(error, USAGE_ERRORS):
        return EXIT_USAGE
    if isinstance(error, (ValueError, TypeError)) and not isinstance(error, np.linalg.LinAlgError):
        return EXIT_USAGE
    return EXIT_FAILURE


def number(kind=float, *, least=None, above=None):
    """An argparse ``type`` for a case's option: a finite number of ``kind`` (int: a whole number),
    at least ``least`` or greater than ``above``; anything else is a usage error naming the option
    (``--steps: must be a whole number >= 1, got '0'``), refused before the case does any work."""
    wanted = "a whole number" if kind is int else "a finite number"
    wanted += f" >= {least:g}" if least is not None else f" > {above:g}" if above is not None else ""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            value = None
        if (value is None or not np.isfinite(value) or (kind is int and value != int(value))
                or (least is not None and value < least) or (above is not None and value <= above)):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return kind(value)

    return parse


def main(argv=None):
    """Run the ``fe2`` command with ``argv`` (default: sys.argv[1:]); returns the exit code."""
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")  # off-screen pictures, no X warning
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse: --help, --version (0) or a usage error (2)
        return int(stop.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    verbose, quiet = getattr(args, "verbose", False), getattr(args, "quiet", False)
    level = logging.ERROR if quiet else logging.DEBUG if verbose else logging.INFO
    try:
        with logs.show(level, stream=sys.stderr if quiet else None), warnings.catch_warnings():  # this command only
            if quiet:
                warnings.simplefilter("ignore")
            warnings.showwarning = _show_warning
            return args.handler(args, _Printer(quiet, verbose))
    except KeyboardInterrupt:
        print("fe2: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - bad input (2) or a failure in the computation (1)
        return _fail(error, exit_code(error), verbose)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """A Python warning as one line on stderr."""
    print(f"fe2 warning: {' '.join(str(message).split())} ({category.__name__})", file=sys.stderr, flush=True)


def _fail(error, code, verbose):
    if verbose:
        traceback.print_exception(error)
    message = " ".join(str(error).split()) or type(error).__name__
    if code == EXIT_FAILURE:
        message = f"{type(error).__name__}: {message}"
    print(f"fe2 {'error' if code == EXIT_USAGE else 'failed'}: {message}", file=sys.stderr)
    return code


class _Printer:
    """stdout unless quiet; ``detail`` only when verbose."""

    def __init__(self, quiet, verbose):
        self.quiet, self.verbose = quiet, verbose

    def __call__(self, *text):
        if not self.quiet:
            print(*text, flush=True)

    def detail(self, *text):
        if self.verbose and not self.quiet:
            print(*text, flush=True)


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line, as every other error of the command."""

    def error(self, message):
        print(f"fe2 error: {self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(EXIT_USAGE)


@contextlib.contextmanager
def _case_usage_errors(case):
    """While a case runs, its argparse usage errors (and its own parser.error calls) raise
    InputError, reported in one line, instead of printing the case's usage."""
    def error(parser, message):
        raise InputError(f"{case} rejected its arguments: {message} (see {case} --help)")

    saved, argparse.ArgumentParser.error = argparse.ArgumentParser.error, error
    try:
        yield
    finally:
        argparse.ArgumentParser.error = saved


def _parser():
    from . import __version__

    common = _Parser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help="print nothing but errors")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="more detail, and full tracebacks on errors")
    parser = _Parser(
        prog="fe2", parents=[common],
        description="Two-scale finite elements: homogenize a cell, run an FE² case, report on a run.",
        epilog="Exit codes: 0 done, 1 the computation failed, 2 bad usage or input. "
               "'fe2 COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"fe2 {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    hom = commands.add_parser(
        "homogenize", parents=[common], help="effective tensor of a meshed cell under periodic, KUBC or SUBC conditions",
        description="Homogenize the cell in MESH (gmsh .msh or any meshio format, with named phases) with the laws "
                    "of a TOML materials file: prints the effective tensor (Mandel and Voigt notation), the Voigt, "
                    "Reuss and Hashin-Shtrikman bounds and the Hill-Mandel residuals; writes the micro fields (VTU) "
                    "and summary.json.",
        epilog='materials.toml: one table per phase of the mesh, e.g. [matrix] law = "isotropic" E = 3.5 nu = 0.35; '
               'laws: isotropic (E, nu), anisotropic (C, convention), conductor (k), j2, nonlinear_conductor '
               '(see fe2/materials/file.py); law = "void" marks pore space. The cell is the mesh\'s bounding box '
               'unless --lattice (or a [lattice] table, vectors = [[a1x, a1y], [a2x, a2y]], in the materials file) '
               'gives its lattice vectors, e.g. --lattice 1,0,0.5,0.866025 for a hexagonal cell.')
    hom.add_argument("mesh", type=Path, help="the cell's mesh file")
    hom.add_argument("--materials", type=Path, required=True, help="TOML file with one law per phase")
    hom.add_argument("--bc", choices=("periodic", "kubc", "subc", "all"), default="periodic",
                     help="boundary condition, or all three with Huet's ordering (default: periodic)")
    hom.add_argument("--order", type=int, choices=(1, 2), default=1, help="Lagrange element order (default 1)")
    hom.add_argument("--lattice", type=_lattice, default=None, metavar="A1X,A1Y,A2X,A2Y",
                     help="lattice vectors of the cell, one after the other (9 numbers in 3D); default: the mesh's "
                          "bounding box, or the [lattice] table of the materials file")
    hom.add_argument("--out", type=Path, default=None, help="output folder (default output/homogenize_<mesh stem>)")
    hom.set_defaults(handler=_homogenize)

    run = commands.add_parser(
        "run", parents=[common], help="run a case script, then write the report of its run",
        description="Run a case script (its main(argv), as 'python CASE.py ARGS' would), then, if its output "
                    "folder holds a macro run record (run.json), write report.md there.",
        epilog="Arguments after CASE go to the case; its --out (or this command's --out, passed on to it; "
               "default output/<case name>) is the folder reported on.")
    run.add_argument("case", type=Path, help="a case script with main(argv), e.g. cases/plate_with_hole.py")
    run.add_argument("--out", type=Path, default=None, help="the case's output folder (passed on as --out)")
    run.add_argument("--no-report", action="store_true", help="do not write the report")
    run.add_argument("case_args", nargs=argparse.REMAINDER, help="arguments of the case script")
    run.set_defaults(handler=_run)

    rep = commands.add_parser(
        "report", parents=[common], help="rebuild the report of a macro run from its output folder",
        description="Rebuild report.md (inputs, Newton and Hill-Mandel figures, convergence table, wall-time "
                    "split) of a macro run from its output folder: run.json and the step_*/ VTU files.")
    rep.add_argument("run_dir", type=Path, help="the run's output folder (with run.json)")
    rep.add_argument("--out", type=Path, default=None, help="report file (default RUN_DIR/report.md)")
    rep.add_argument("--no-figures", action="store_true", help="tables only, no figures")
    rep.set_defaults(handler=_report)
    return parser


# --- fe2 homogenize -----------------------------------------------------------------------------------
def _homogenize(args, say):
    import fe2
    from .materials.file import load_lattice, load_materials
    from .io import write_homogenization
    from .notation import mandel_to_voigt

    start = time.perf_counter()
    try:
        mesh = fe2.geometry.load_mesh(args.mesh)
    except ValueError as error:
        raise InputError(f"{args.mesh} is not a usable mesh: {error}") from None
    phases = list(mesh.subdomains)
    try:
        materials = load_materials(args.materials, phases=phases)
        lattice = load_lattice(args.materials)
        if lattice is not None and args.lattice is not None:
            raise InputError(f"two lattices: --lattice and the [lattice] table of {args.materials}; give one")
        lattice = args.lattice if lattice is None else lattice
        cell = fe2.Cell(mesh, materials, order=args.order, lattice=lattice)
    except ValueError as error:
        raise InputError(str(error)) from None
    say(cell)
    say.detail(f"mesh {args.mesh}: {type(mesh).__name__}, phases {phases}; materials {materials}")
    elastic = cell.physics.name == "elasticity"
    labels = ", ".join(cell.physics.labels)

    if args.bc == "all":
        comparison = fe2.compare(cell)
        results, bounds = comparison.results, comparison.bounds
    else:
        results = {args.bc: fe2.homogenize(cell, args.bc)}
        bounds = {"voigt": fe2.bounds.voigt(cell), "reuss": fe2.bounds.reuss(cell)}
        try:
            bounds["hs_lower"], bounds["hs_upper"] = fe2.bounds.hashin_shtrikman(cell)
        except ValueError:
            pass
    voigt = (lambda C: mandel_to_voigt(C)) if elastic else (lambda C: C)

    for name, result in results.items():
        if elastic:
            say(f"\n{name}: effective stiffness, Mandel notation (rows/cols {labels}; shear sqrt2 eps_xy):")
            say(_matrix(result.tensor))
            say(f"{name}: effective stiffness, Voigt notation (engineering shear 2 eps_xy):")
            say(_matrix(result.voigt()))
        else:
            say(f"\n{name}: effective conductivity (maps <grad T> to -<q>; rows/cols {labels}):")
            say(_matrix(result.tensor))
        say(f"{name}: eigenvalues {_row(result.eigenvalues)}, symmetry error {result.symmetry_error:.1e}")
    say("\nbounds" + (" (Voigt notation)" if elastic else "") + ":")
    for name, bound in bounds.items():
        say(f"  {_BOUND_NAMES.get(name, name)}:")
        say(_matrix(voigt(bound), indent=4))
    say("\nHill-Mandel residuals |<s:e> - <s>:<e>| / |<s>:<e>| per unit load case:")
    for name, result in results.items():
        say(f"  {name:9s}" + "".join(f"  {case.label}: {case.hill_mandel:.1e}" for case in result.cases))
    ordered = None
    if args.bc == "all":
        ordered = comparison.ordered
        say(f"\nreuss <= subc <= periodic <= kubc <= voigt: {'holds' if ordered else 'VIOLATED'}")

    out = args.out or Path("output") / f"homogenize_{args.mesh.stem}"
    out.mkdir(parents=True, exist_ok=True)
    files = [Path(p).name for result in results.values() for p in write_homogenization(result, out)]
    summary = {
        "mesh": str(args.mesh), "materials_file": str(args.materials), "cell": repr(cell),
        "physics": cell.physics.name, "order": args.order, "bc": args.bc,
        "lattice": cell.lattice.vectors.tolist(), "porosity": cell.porosity,
        "materials": {name: repr(law) for name, law in materials.items()},
        "convention": (f"Mandel ({labels}), shear components sqrt2 eps_xy; 'voigt' entries act on 2 eps_xy"
                       if elastic else f"conductivity ({labels}), maps <grad T> to -<q>"),
        "tensors": {name: r.tensor.tolist() for name, r in results.items()},
        "voigt": {name: voigt(r.tensor).tolist() for name, r in results.items()},
        "bounds": {name: b.tolist() for name, b in bounds.items()},
        "bounds_voigt": {name: voigt(b).tolist() for name, b in bounds.items()},
        "hill_mandel": {name: r.hill_mandel for name, r in results.items()},
        "hill_mandel_cases": {name: {case.label: case.hill_mandel for case in r.cases} for name, r in results.items()},
        "ordered": ordered,
        "files": files,
        "seconds": time.perf_counter() - start,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    say(f"\nwrote {len(files)} VTU files and summary.json to {out} in {summary['seconds']:.1f} s")
    return EXIT_OK


def _lattice(text):
    """--lattice: the lattice vectors, a1 then a2 (then a3), 4 or 9 comma-separated numbers."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) not in (4, 9) or not np.all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"must be 4 numbers a1x,a1y,a2x,a2y (2D) or 9 (3D), comma-separated, got {text!r}")
    dim = 2 if len(values) == 4 else 3
    return np.reshape(values, (dim, dim)).tolist()


_BOUND_NAMES = {"voigt": "Voigt <C>", "reuss": "Reuss <C^-1>^-1", "hs_lower": "Hashin-Shtrikman lower",
                "hs_upper": "Hashin-Shtrikman upper"}


def _matrix(matrix, indent=2):
    return "\n".join(" " * indent + " ".join(f"{v:13.6g}" for v in row) for row in np.asarray(matrix))


def _row(values):
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(values)) + "]"


# --- fe2 run --------------------------------------------------------------------------------------------
def _run(args, say):
    case = args.case
    if not case.is_file():
        raise FileNotFoundError(f"case script not found: {case}")
    case_args = list(args.case_args)
    if case_args[:1] == ["--"]:
        case_args = case_args[1:]
    out = _option(case_args, "--out")
    if args.out is not None:
        if out is not None and Path(out) != args.out:
            raise InputError(f"two output folders: fe2 run --out {args.out} and the case's --out {out}")
        if out is None:
            case_args += ["--out", str(args.out)]
        out = args.out
    elif out is None:
        out = Path("output") / case.stem
        case_args += ["--out", str(out)]
    out = Path(out)
    try:
        namespace = runpy.run_path(str(case), run_name="fe2_case")
    except SyntaxError as error:
        raise InputError(f"{case} is not a valid Python script: {error}") from None
    if not callable(namespace.get("main")):
        raise InputError(f"{case} has no main(argv) function; fe2 run needs a case script like those in cases/")
    say(f"fe2 run: {case} {' '.join(case_args)}")
    start = time.perf_counter()
    saved_argv, sys.argv = sys.argv, [str(case), *case_args]  # the case's usage messages name the case
    with _silenced() if say.quiet else contextlib.nullcontext(), _case_usage_errors(case):
        try:
            namespace["main"](case_args)
        except SystemExit as stop:  # the case's --help (0), or an exit of its own
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else EXIT_USAGE)
            if code:
                raise InputError(f"{case} rejected its arguments {case_args} (see its --help)") from None
            return EXIT_OK
        finally:
            sys.argv = saved_argv
    say(f"\nfe2 run: {case.name} finished in {time.perf_counter() - start:.1f} s; output in {out}")
    record, report = out / "run.json", out / "report.md"
    if not args.no_report and record.is_file():
        if not (report.is_file() and report.stat().st_mtime >= record.stat().st_mtime):  # the case may write it
            from .io.report import write_report
            write_report(out)
        say(f"fe2 run: report in {report}")
    return EXIT_OK


@contextlib.contextmanager
def _silenced():
    """Standard output off, at the file descriptor too: a case may write to a stream it saved
    before, or from compiled code, past contextlib.redirect_stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
            os.dup2(null.fileno(), 1)
            yield
            sys.stdout.flush()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _option(argv, name):
    """The value of option ``name`` in argv (``--out X`` or ``--out=X``), or None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


# --- fe2 report -----------------------------------------------------------------------------------------
def _report(args, say):
    from .io.record import load
    from .io.report import write_report

    run_dir = args.run_dir
    if not run_dir.exists():
        raise FileNotFoundError(f"run folder not found: {run_dir}")
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is a file, not a run folder")
    if not (run_dir / "run.json").is_file():
        raise InputError(f"{run_dir} is not an fe2 run folder: it has no run.json (written by "
                         "fe2.io.MacroWriter during a macro run)")
    try:
        record = load(run_dir)
    except ValueError as error:  # not JSON
        raise InputError(str(error)) from None
    if not isinstance(record, dict) or not isinstance(record.get("inputs"), dict) or not record.get("steps"):
        raise InputError(f"{run_dir / 'run.json'} is not a run record with converged steps (it needs 'inputs' and "
                         "a non-empty 'steps')")
    report = write_report(run_dir, out=args.out, figures=not args.no_figures)
    say(f"wrote {report}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
