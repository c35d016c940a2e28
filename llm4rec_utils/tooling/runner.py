"""Execute the notebooks in order with papermill and collect their results.

Usage (``make run`` and ``make test`` wrap it)::

    python -m llm4rec_utils.tooling.runner --profile full            # every notebook
    python -m llm4rec_utils.tooling.runner --profile smoke 01 03     # a subset, by number or name

Writes to ``--build-dir`` (default ``build/``): executed notebooks, their HTML, ``results.json``
(provenance, per-notebook status, wall time and peak memory, recorded metrics), ``RESULTS.md``
and ``index.html`` (the front page: a row per notebook, the ten slowest cells, leaderboards).
Each notebook runs in its own process so its peak memory (kernel included) can be
measured; a failing notebook is reported with its failing cell, the others still run, and the
exit status is non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..constants import PROFILES
from ..data import resolve_data_dir
from ..repro import check_profile
from .report import write_index
from .results import locked, read_results, results_html, results_table, write_results

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "llm4rec"


def list_notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``), in order."""
    return sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(names: list[str], notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Resolve ``["01", "03_attention_math"]`` to notebook paths; unknown names raise."""
    available = list_notebooks(notebook_dir)
    if not names:
        return available
    chosen = []
    for name in names:
        stem = Path(name).stem
        match = [p for p in available if p.stem == stem or p.stem.split("_")[0] == stem]
        if not match:
            raise ValueError(
                f"no notebook {name!r}; available: {', '.join(p.stem for p in available)}"
            )
        chosen.extend(m for m in match if m not in chosen)
    return chosen


def provenance(profile: str, device: str, seed: int) -> dict:
    """Where the numbers come from: commit, date, versions, device and profile."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        commit = (commit or "unknown") + ("+dirty" if dirty.strip() else "")
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    try:
        torch_version = metadata.version("torch")
    except metadata.PackageNotFoundError:
        torch_version = "not installed"
    from ..repro import get_device

    return {
        "commit": commit,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch_version,
        "device": f"{device} -> {get_device(device).type}",
        "cpu_count": os.cpu_count(),
        "profile": profile,
        "seed": seed,
    }


@dataclass
class NotebookRun:
    name: str
    status: str
    wall_s: float
    peak_rss_mb: float
    error: str = ""
    outputs: list[str] = field(default_factory=list)


def _wait_with_rusage(proc: subprocess.Popen, timeout_s: float | None) -> tuple[int, int, str]:
    """Reap ``proc`` with ``wait4`` to get its peak RSS (KiB), which on Linux includes its
    reaped descendants, i.e. the Jupyter kernel. Returns (exit code, peak KiB, error)."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    error = ""
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            error = f"timed out after {timeout_s} s"
        time.sleep(0.1)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here, so Popen must not wait again
    return code, usage.ru_maxrss, error


def _source_cell_index(executed_path: str, executed_index: int) -> int:
    """The failing cell's index in the source notebook.

    Papermill's index counts its injected-parameters cell; and before it raises, it writes the
    executed notebook with two more cells (an error banner at the top and an anchor before the
    failing cell), both tagged ``papermill-error-cell-tag``. Drop those, then drop the injected
    cells that come before the failing one.
    """
    try:
        import nbformat

        cells = [
            c
            for c in nbformat.read(executed_path, as_version=4).cells
            if "papermill-error-cell-tag" not in c.metadata.get("tags", [])
        ][:executed_index]
        injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
        return executed_index - injected
    except Exception:  # noqa: BLE001 -- best effort; the executed index is still useful
        return executed_index


def _execute_one(
    input_path: str, output_path: str, params_json: str, kernel: str, err_file: str
) -> int:
    """Child process: run one notebook with papermill. Exit 1 with the failing cell on error."""
    import papermill as pm

    params = json.loads(params_json)
    try:
        pm.execute_notebook(
            input_path,
            output_path,
            parameters=params,
            kernel_name=kernel,
            language="python",
            cwd=str(Path(input_path).parent),
            progress_bar=sys.stderr.isatty(),
            log_output=False,
        )
    except pm.PapermillExecutionError as err:
        cell = _source_cell_index(output_path, err.cell_index)
        message = (
            f"FAILED {Path(input_path).stem}: cell {cell} "
            f"(execution count {err.exec_count}): {err.ename}: {err.evalue}"
        )
        print(message, file=sys.stderr)
        Path(err_file).write_text(message)
        return 1
    except Exception as err:  # noqa: BLE001 -- report any setup failure with the notebook's name
        message = f"FAILED {Path(input_path).stem}: {type(err).__name__}: {err}"
        print(message, file=sys.stderr)
        Path(err_file).write_text(message)
        return 1
    return 0


def _export_html(executed: Path) -> Path | None:
    try:
        import nbformat
        from nbconvert import HTMLExporter

        body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
        out = executed.with_suffix(".html")
        out.write_text(body, encoding="utf-8")
        return out
    except Exception as err:  # noqa: BLE001 -- HTML is a convenience; never fail the run for it
        print(f"  (HTML export of {executed.name} failed: {err})", file=sys.stderr)
        return None


def check_kernel(kernel: str) -> None:
    """Raise a clear error if the named Jupyter kernel is not installed."""
    from jupyter_client.kernelspec import KernelSpecManager

    specs = KernelSpecManager().find_kernel_specs()
    if kernel not in specs:
        raise RuntimeError(
            f"Jupyter kernel {kernel!r} is not installed "
            f"(found: {', '.join(sorted(specs)) or 'none'}). "
            f"Fix: `make install`, or `python -m ipykernel install --sys-prefix --name {kernel}`."
        )


# Which notebooks read what others recorded: 07's leaderboard reads 01-06; 08 reads the
# quality of 03, 05 and 06 and the cross-encoder 04 saves. Declared once, by number; with
# ``--jobs`` a notebook starts only after those of its dependencies that are in the run.
NOTEBOOK_DEPS = {
    "07": ["01", "02", "03", "04", "05", "06"],
    "08": ["03", "04", "05", "06"],
    "09": ["03"],
    "06": ["02"],  # 06 reads the item-text encodings 02 caches
}


def _run_notebook(
    nb: Path, build_dir: Path, params: dict, kernel: str, env: dict, timeout_s, html: bool
) -> NotebookRun:
    """Execute one notebook in a child process; its status, wall time and peak memory."""
    out = build_dir / nb.name
    err_file = build_dir / f".{nb.stem}.error"
    err_file.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "llm4rec_utils.tooling.runner",
        "--_execute",
        str(nb),
        str(out),
        json.dumps(params),
        kernel,
        str(err_file),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env)
    code, peak_kb, error = _wait_with_rusage(proc, timeout_s)
    wall = time.perf_counter() - start
    ok = code == 0
    if not ok:
        error = (
            (err_file.read_text().strip() if err_file.exists() else "")
            or error
            or (f"FAILED {nb.stem}: exit {code}")
        )
    err_file.unlink(missing_ok=True)
    run = NotebookRun(
        nb.stem, "ok" if ok else "failed", round(wall, 2), round(peak_kb / 1024, 1), error
    )
    if out.exists():
        run.outputs.append(str(out))
        if html and (h := _export_html(out)):
            run.outputs.append(str(h))
    return run


def _schedule(notebooks: list[Path], run_one, jobs: int, deps: dict) -> list[NotebookRun]:
    """Run ``run_one(i, nb)`` for every notebook, ``jobs`` at a time, each after its
    dependencies among ``notebooks`` (keys and values are notebook numbers or stems)."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    def key(nb: Path) -> str:
        return nb.stem.split("_")[0]

    present = {key(nb) for nb in notebooks}
    needs = {
        nb: {d for d in deps.get(key(nb), deps.get(nb.stem, [])) if d in present}
        for nb in notebooks
    }
    order = {nb: i for i, nb in enumerate(notebooks, 1)}
    done: dict[Path, NotebookRun] = {}
    finished: set[str] = set()
    pending = list(notebooks)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        running = {}
        while pending or running:
            for nb in [nb for nb in pending if needs[nb] <= finished][: jobs - len(running)]:
                pending.remove(nb)
                running[pool.submit(run_one, order[nb], nb)] = nb
            if not running:  # a dependency cycle would otherwise wait forever
                raise ValueError(f"unsatisfiable notebook dependencies: {needs}")
            complete, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in complete:
                nb = running.pop(future)
                done[nb] = future.result()
                finished.add(key(nb))
    return [done[nb] for nb in notebooks]


SEED_MAX = 2**32 - 1  # numpy's seeds and PYTHONHASHSEED both stop here


def check_seed(seed) -> int:
    """Raise ``ValueError`` unless ``seed`` is an integer in [0, 2**32 - 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise ValueError(
            f"seed must be an integer from 0 to {SEED_MAX} (numpy and PYTHONHASHSEED accept no "
            f"other), got {seed!r}"
        )
    return seed


RESERVED = {"PROFILE", "DEVICE", "SEED", "DATA_DIR", "RESULTS_PATH"}


def parse_params(items: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> a dict; the runner's own parameters have their own options."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not name.isupper():
            raise ValueError(f"--param takes NAME=VALUE with an upper-case name, got {item!r}")
        if name in RESERVED:
            raise ValueError(f"set {name} with its own option (--{name.lower().replace('_', '-')})")
        out[name] = value
    return out


def _seed_arg(text: str) -> int:
    try:
        return check_seed(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            str(err) if "seed must" in str(err) else f"seed must be an integer, got {text!r}"
        ) from None


def run_notebooks(
    notebooks: list[Path],
    profile: str = "full",
    device: str = "auto",
    seed: int = 42,
    data_dir: str | None = None,
    build_dir: str | os.PathLike = REPO_ROOT / "build",
    kernel: str = KERNEL_NAME,
    html: bool = True,
    timeout_s: float | None = None,
    jobs: int = 1,
    deps: dict[str, list[str]] | None = None,
    extra_params: dict[str, str] | None = None,
) -> tuple[dict, list[NotebookRun]]:
    """Run ``notebooks``; return the results dict and one record per notebook (in input order).

    With ``jobs > 1``, up to ``jobs`` notebooks run at once, each after the notebooks it reads
    (``deps``, default :data:`NOTEBOOK_DEPS`), with ``cpu_count // jobs`` threads each so the
    cores are not oversubscribed. Bad settings (profile, seed, device, kernel, jobs) raise
    before anything is written.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    from ..repro import get_device

    check_profile(profile)
    check_seed(seed)
    get_device(device)  # ValueError naming the device and the fix
    check_kernel(kernel)
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    results_path = build_dir / "results.json"
    names = [p.stem for p in notebooks]

    results = read_results(results_path)
    if results.get("provenance", {}).get("profile") not in (None, profile):
        results = {"provenance": {}, "notebooks": {}, "metrics": []}  # never mix profiles
    results["provenance"] = provenance(profile, device, seed)
    results["metrics"] = [m for m in results["metrics"] if m["notebook"] not in names]
    for n in names:
        results["notebooks"].pop(n, None)
    write_results(results_path, results)

    params = {
        "PROFILE": profile,
        "DEVICE": device,
        "SEED": seed,
        "DATA_DIR": str(resolve_data_dir(data_dir).resolve()),
        "RESULTS_PATH": str(results_path),
    }
    params.update(extra_params or {})  # e.g. DECODER_MODEL, LLM_ENDPOINT (notebook 09)
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    if jobs > 1:  # share the cores: each notebook gets its slice of threads
        threads = str(max(1, (os.cpu_count() or 1) // jobs))
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)

    def run_one(i: int, nb: Path) -> NotebookRun:
        print(f"[{i}/{len(notebooks)}] {nb.stem} (profile={profile}) ...", flush=True)
        run = _run_notebook(nb, build_dir, params, kernel, env, timeout_s, html)
        with locked(results_path):
            stored = read_results(results_path)
            stored["notebooks"][nb.stem] = {
                "status": run.status,
                "wall_s": run.wall_s,
                "peak_rss_mb": run.peak_rss_mb,
                **({"error": run.error} if run.error else {}),
            }
            write_results(results_path, stored)
        print(
            f"    {nb.stem}: {run.status} in {run.wall_s:.1f} s, peak RSS {run.peak_rss_mb:.0f} MB"
            + (f"  <- {run.error}" if run.error else ""),
            flush=True,
        )
        return run

    runs = _schedule(notebooks, run_one, jobs, NOTEBOOK_DEPS if deps is None else deps)
    results = read_results(results_path)
    report = results_table(results)
    (build_dir / "RESULTS.md").write_text(report, encoding="utf-8")
    (build_dir / "RESULTS.html").write_text(results_html(report), encoding="utf-8")
    write_index(build_dir, results)
    return results, runs


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--_execute":  # internal: one notebook in a child process
        return _execute_one(*argv[1:6])
    parser = argparse.ArgumentParser(
        prog="python -m llm4rec_utils.tooling.runner", description=__doc__.split("\n")[0]
    )
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--profile", default="full", choices=PROFILES)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--seed", type=_seed_arg, default=42, help=f"0 to {SEED_MAX}")
    parser.add_argument("--data-dir", default=None, help="default: $LLM4REC_DATA_DIR or data/")
    parser.add_argument("--build-dir", default=str(REPO_ROOT / "build"))
    parser.add_argument("--kernel", default=KERNEL_NAME)
    parser.add_argument("--no-html", action="store_true")
    parser.add_argument(
        "--jobs", type=int, default=1, help="notebooks run at once (dependencies respected)"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another papermill parameter, e.g. DECODER_MODEL=Qwen/Qwen2.5-1.5B-Instruct",
    )
    args = parser.parse_args(argv)
    try:
        extra = parse_params(args.param)
    except ValueError as err:
        parser.error(str(err))
    try:
        notebooks = select_notebooks(args.notebooks)
    except ValueError as err:
        parser.error(str(err))
    total = time.perf_counter()
    try:
        _, runs = run_notebooks(
            notebooks,
            args.profile,
            args.device,
            args.seed,
            args.data_dir,
            args.build_dir,
            args.kernel,
            html=not args.no_html,
            jobs=args.jobs,
            extra_params=extra,
        )
    except (ValueError, RuntimeError) as err:  # bad settings: one line, nothing written
        parser.error(str(err))
    failed = [r for r in runs if r.status != "ok"]
    print(
        f"{len(runs) - len(failed)}/{len(runs)} notebooks ok "
        f"in {time.perf_counter() - total:.1f} s; "
        f"results in {Path(args.build_dir) / 'results.json'} and RESULTS.md"
    )
    for r in failed:
        print(
            r.error if r.error.startswith("FAILED") else f"FAILED {r.name}: {r.error}",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
