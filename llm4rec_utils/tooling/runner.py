"""Execute the notebooks in order with papermill and collect their results.

Usage (``make run`` and ``make test`` wrap it)::

    python -m llm4rec_utils.tooling.runner --profile full            # every notebook
    python -m llm4rec_utils.tooling.runner --profile smoke 01 03     # a subset, by number or name

Writes to ``--build-dir`` (default ``build/``): executed notebooks, their HTML (``pages``: the
student edition a reader opens and, apart, the teacher copy with solutions), ``results.json``
(provenance, per-notebook status, wall time and peak memory, recorded metrics), ``RESULTS.md``
and ``index.html`` (the front page: a row per notebook, the ten slowest cells, leaderboards).
Each notebook runs in its own process so its peak memory (kernel included) can be
measured; a failing notebook is reported with its failing cell, the others still run, and the
exit status is non-zero. Bad input (a build folder that cannot be written, a damaged
``results.json``, a ``--param`` no notebook declares, a notebook name with other characters
than letters, digits and ``_``, another runner already using the build folder) is refused in
one line with exit status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from ..constants import PROFILES
from ..data import resolve_data_dir
from ..repro import check_profile
from .cli import BadInput, OneLineParser, one_line
from .report import write_index
from .results import locked, read_results, results_html, results_table, write_results

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
KERNEL_NAME = "llm4rec"


def list_notebooks(notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """The numbered notebooks (``NN_name.ipynb``), in order."""
    return sorted(p for p in notebook_dir.glob("[0-9][0-9]_*.ipynb"))


NOTEBOOK_NAME = re.compile(r"[A-Za-z0-9_]+(\.ipynb)?")


def select_notebooks(names: list[str], notebook_dir: Path = NOTEBOOK_DIR) -> list[Path]:
    """Resolve ``["01", "03_attention_math"]`` to notebook paths; unknown names raise, and so
    do names with other characters than letters, digits and ``_`` (``01; echo x``)."""
    available = list_notebooks(notebook_dir)
    if not names:
        return available
    chosen = []
    for name in names:
        if not NOTEBOOK_NAME.fullmatch(name):
            raise BadInput(
                f"notebook names are numbers or names (letters, digits, _), got {name!r}: "
                "give e.g. 01 or 03_attention_math"
            )
        stem = Path(name).stem
        match = [p for p in available if p.stem == stem or p.stem.split("_")[0] == stem]
        if not match:
            raise BadInput(
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
    peak_rss_mb: float | None  # None: this platform could not measure it (see ``note``)
    error: str = ""
    outputs: list[str] = field(default_factory=list)
    note: str = ""  # what could not be measured, and why


POLL_S = 0.1


def _wait_with_rusage(
    proc: subprocess.Popen, timeout_s: float | None
) -> tuple[int, int | None, str, str]:
    """Wait for ``proc``; returns (exit code, peak RSS in KiB or None, error, note).

    Where ``os.wait4`` exists (Linux, macOS) it reaps ``proc`` and reads its peak RSS, which
    includes its reaped descendants, i.e. the Jupyter kernel. Elsewhere (Windows) psutil samples
    the RSS of the process tree every :data:`POLL_S` seconds, which can miss a short peak; without
    psutil the peak is not measured. ``note`` says which, empty for ``wait4``."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    error = ""
    if not hasattr(os, "wait4"):
        return _wait_polling(proc, deadline, timeout_s)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.monotonic() > deadline:
            proc.kill()
            error = f"timed out after {timeout_s} s"
        time.sleep(POLL_S)
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped here, so Popen must not wait again
    peak_kb = usage.ru_maxrss // 1024 if sys.platform == "darwin" else usage.ru_maxrss  # bytes
    return code, peak_kb, error, ""


def _wait_polling(proc: subprocess.Popen, deadline, timeout_s) -> tuple[int, int | None, str, str]:
    """:func:`_wait_with_rusage` without ``os.wait4``: psutil samples the tree's RSS."""
    try:
        import psutil
    except ImportError:
        psutil = None
    note = (
        f"peak memory sampled every {POLL_S} s with psutil (os.wait4 is not available here): "
        "a shorter peak can be missed"
        if psutil
        else "peak memory not measured: neither os.wait4 nor psutil is available here"
    )
    error, peak = "", 0
    root = None
    if psutil:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(proc.pid)
    while proc.poll() is None:
        if root is not None:
            total = 0
            with contextlib.suppress(psutil.Error):
                for q in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += q.memory_info().rss
            peak = max(peak, total)
        if deadline is not None and time.monotonic() > deadline and not error:
            proc.kill()
            error = f"timed out after {timeout_s} s"
        time.sleep(POLL_S)
    return proc.returncode, (peak // 1024 if root is not None else None), error, note


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
    tidy_streams(output_path)
    return 0


def tidy_streams(executed: str | os.PathLike) -> None:
    """Merge each cell's consecutive stdout/stderr outputs and keep what a terminal shows after
    its carriage returns (nbconvert's ``CoalesceStreamsPreprocessor``). A text progress bar
    redraws itself with ``\r``; each redraw was saved as an output of its own (295 of them in
    notebook 03's training cells), where a terminal shows the last frame."""
    import nbformat
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    from .files import atomic_path

    path = Path(executed)
    nb = nbformat.read(path, as_version=4)
    CoalesceStreamsPreprocessor().preprocess(nb, {})
    with atomic_path(path) as tmp:
        nbformat.write(nb, str(tmp))


def _export_html(executed: Path) -> list[Path]:
    """The executed notebook's pages (``pages.export_pages``): the student edition, the page the
    front page links, and for coursework the teacher copy beside it."""
    try:
        from .pages import export_pages

        return export_pages(executed)
    except Exception as err:  # noqa: BLE001 -- HTML is a convenience; never fail the run for it
        print(f"  (HTML export of {executed.name} failed: {err})", file=sys.stderr)
        return []


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
    code, peak_kb, error, note = _wait_with_rusage(proc, timeout_s)
    wall = time.perf_counter() - start
    ok = code == 0
    if not ok:
        error = (
            (err_file.read_text().strip() if err_file.exists() else "")
            or error
            or (f"FAILED {nb.stem}: exit {code}")
        )
    err_file.unlink(missing_ok=True)
    peak_mb = None if peak_kb is None else round(peak_kb / 1024, 1)
    run = NotebookRun(nb.stem, "ok" if ok else "failed", round(wall, 2), peak_mb, error, note=note)
    if out.exists():
        run.outputs.append(str(out))
        if html:
            run.outputs.extend(str(h) for h in _export_html(out))
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


def declared_parameters(nb: Path) -> set[str]:
    """The names a notebook's ``parameters``-tagged cell assigns (what papermill can set)."""
    import nbformat

    try:
        cells = nbformat.read(nb, as_version=4).cells
    except Exception as err:  # noqa: BLE001 -- a damaged notebook: say which, in one line
        raise BadInput(f"cannot read {nb}: {one_line(err)}") from None
    source = "\n".join(c.source for c in cells if "parameters" in c.metadata.get("tags", []))
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(re.findall(r"^([A-Za-z_]\w*)\s*(?::[^=]*)?=", source, re.M))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def check_params(notebooks: list[Path], params: dict) -> None:
    """Refuse a parameter that no selected notebook declares in its parameters cell: papermill
    would only log "Passed unknown parameter" and the notebook would run its default."""
    declared = set().union(*(declared_parameters(nb) for nb in notebooks)) if notebooks else set()
    unknown = [name for name in params if name not in declared]
    if unknown:
        raise BadInput(
            f"unknown parameter {', '.join(unknown)}: no selected notebook declares it in its "
            f"parameters cell (declared: {', '.join(sorted(declared - RESERVED)) or 'none'}); "
            "check the spelling or the notebooks chosen"
        )


def parse_params(items: list[str]) -> dict[str, str]:
    """``["NAME=VALUE", ...]`` -> a dict; the runner's own parameters have their own options."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier() or not name.isupper():
            raise BadInput(f"--param takes NAME=VALUE with an upper-case name, got {item!r}")
        if name in RESERVED:
            raise BadInput(f"set {name} with its own option (--{name.lower().replace('_', '-')})")
        out[name] = value
    return out


def _seed_arg(text: str) -> int:
    try:
        return check_seed(int(text))
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            str(err) if "seed must" in str(err) else f"seed must be an integer, got {text!r}"
        ) from None


def _make_build_dir(build_dir: Path) -> None:
    """Create the build folder, or raise ``BadInput`` saying why it cannot be."""
    fix = "choose another --build-dir"
    if build_dir.exists() and not build_dir.is_dir():
        raise BadInput(f"the build folder {build_dir} is a file, not a folder: {fix}")
    above = next((p for p in build_dir.parents if p.exists()), None)
    if above is not None and not above.is_dir():
        raise BadInput(f"the build folder {build_dir} lies below a file ({above}): {fix}")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BadInput(
            f"cannot create the build folder {build_dir} ({err.strerror or one_line(err)}): {fix}"
        ) from None


RUNNER_LOCK = ".runner.lock"  # held for the whole run: one runner per build folder
RUNNER_PID = ".runner.pid"


@contextlib.contextmanager
def build_lock(build_dir: Path):
    """Hold the build folder's runner lock for a whole run. A second runner on the same
    folder gets ``BadInput`` naming the first one's PID (filelock: portable, and released by
    the OS if the holder dies)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(build_dir / RUNNER_LOCK))
    pid_file = build_dir / RUNNER_PID
    try:
        lock.acquire(timeout=0)
    except Timeout:
        pid = "unknown"
        for _ in range(20):  # the holder writes its PID right after taking the lock
            with contextlib.suppress(OSError):
                pid = pid_file.read_text().strip() or pid
            if pid != "unknown":
                break
            time.sleep(0.05)
        raise BadInput(
            f"another runner (PID {pid}) is running in {build_dir}: wait for it to finish, or "
            "give this run another --build-dir"
        ) from None
    except OSError as err:
        raise BadInput(
            f"cannot write in the build folder {build_dir} ({err.strerror or one_line(err)}): "
            "choose another --build-dir"
        ) from None
    try:
        pid_file.write_text(str(os.getpid()))
        yield
    finally:
        pid_file.unlink(missing_ok=True)
        lock.release()


RUN_SETTINGS = ("profile", "seed", "device")


def _device_of(prov: dict) -> str | None:
    """The device a run used (``"auto -> cpu"`` -> ``"cpu"``)."""
    dev = prov.get("device")
    return None if dev is None else str(dev).split("->")[-1].strip()


def _settings(prov: dict) -> dict:
    return {"profile": prov.get("profile"), "seed": prov.get("seed"), "device": _device_of(prov)}


def start_results(results_path: Path, names: list[str], prov: dict) -> dict:
    """Under the results lock: drop the rows and records of the notebooks about to run, and
    everything if the stored run had another profile, seed or device (a file holds one run's
    numbers); write the provenance of this run."""
    with locked(results_path):
        results = read_results(results_path)
        old, new = _settings(results.get("provenance", {})), _settings(prov)
        if any(old[k] is not None and old[k] != new[k] for k in RUN_SETTINGS):
            results.update(provenance={}, notebooks={}, metrics=[], claims=[])  # never mix runs
        results["provenance"] = prov
        results["metrics"] = [m for m in results["metrics"] if m["notebook"] not in names]
        # a notebook's verdicts go with its rows ("claims" records name the notebook by number)
        numbers = {n[:2] for n in names}
        results["claims"] = [
            c for c in results.get("claims", []) if c.get("notebook") not in numbers
        ]
        for n in names:
            results["notebooks"].pop(n, None)
        write_results(results_path, results)
    return results


def free_threads(jobs: int = 1, running: int = 0, cores: int | None = None,
                 load: float | None = None) -> int:
    """Threads for the next notebook: its share of the cores (``cores // jobs``), and no more
    than the cores other programs leave free, judged by the cores busy over the last second
    minus this run's own running notebooks. (Not the 1-minute load average: it still holds the
    notebook that just finished, so on an idle machine every notebook after the first got one
    thread.) Beside another CPU-bound job, torch's default (every core) made 03's
    smoke run 443 s against 36 s with one thread, and a small training loop 2-3x slower than one
    thread (README); on an idle machine this gives every core, torch's default.
    ``LLM4REC_THREADS`` overrides it.
    """
    if os.environ.get("LLM4REC_THREADS", "").isdigit() and int(os.environ["LLM4REC_THREADS"]) > 0:
        return int(os.environ["LLM4REC_THREADS"])
    cores = cores or os.cpu_count() or 1
    if load is None:
        import psutil

        load = psutil.cpu_percent(interval=1.0) / 100.0 * cores  # busy cores, the last second
    other = max(0.0, load - running)
    return max(1, min(cores // max(1, jobs), cores - round(other)))


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
    cores are not oversubscribed. Bad settings (profile, seed, device, kernel, jobs, a
    parameter no notebook declares, a build folder that cannot be written, a damaged
    ``results.json``, another runner on the same build folder) raise before anything is
    written.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    from ..repro import get_device

    check_profile(profile)
    check_seed(seed)
    get_device(device)  # ValueError naming the device and the fix
    check_kernel(kernel)
    check_params(notebooks, extra_params or {})
    build_dir = Path(build_dir).resolve()
    results_path = build_dir / "results.json"
    if build_dir.is_dir():
        read_results(results_path)  # a damaged file: one line, before anything is written
    _make_build_dir(build_dir)
    with build_lock(build_dir):
        return _run_locked(
            notebooks, profile, device, seed, data_dir, build_dir, kernel, html, timeout_s,
            jobs, deps, extra_params,
        )  # fmt: skip


def _run_locked(
    notebooks, profile, device, seed, data_dir, build_dir, kernel, html, timeout_s, jobs, deps,
    extra_params,
) -> tuple[dict, list[NotebookRun]]:  # fmt: skip
    """:func:`run_notebooks` once the build folder's runner lock is held."""
    results_path = build_dir / "results.json"
    names = [p.stem for p in notebooks]
    prov = provenance(profile, device, seed)
    start_results(results_path, names, prov)

    params = {
        "PROFILE": profile,
        "DEVICE": device,
        "SEED": seed,
        "DATA_DIR": str(resolve_data_dir(data_dir).resolve()),
        "RESULTS_PATH": str(results_path),
    }
    params.update(extra_params or {})  # e.g. DECODER_MODEL, LLM_ENDPOINT (notebook 09)
    # LLM4REC_HEADLESS: text progress bars, since a saved widget shows its first frame ("0%")
    env = dict(os.environ, PYTHONHASHSEED=str(seed), LLM4REC_HEADLESS="1")
    import threading

    running, count_lock = [0], threading.Lock()  # this run's notebooks executing now

    def run_one(i: int, nb: Path) -> NotebookRun:
        with count_lock:
            threads = str(free_threads(jobs, running[0]))
            running[0] += 1
        print(f"[{i}/{len(notebooks)}] {nb.stem} ({profile}, {threads} threads) ...", flush=True)
        try:
            run = _run_notebook(nb, build_dir, params, kernel,
                                {**env, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads},
                                timeout_s, html)
        finally:
            with count_lock:
                running[0] -= 1
        with locked(results_path):
            stored = read_results(results_path)
            stored["notebooks"][nb.stem] = {
                "status": run.status,
                "wall_s": run.wall_s,
                "peak_rss_mb": run.peak_rss_mb,
                **({"error": run.error} if run.error else {}),
                **({"memory_note": run.note} if run.note else {}),
                # what this notebook ran with (the provenance is the run's)
                "profile": profile,
                "seed": seed,
                "device": _device_of(prov),
            }
            write_results(results_path, stored)
        peak = "not measured" if run.peak_rss_mb is None else f"{run.peak_rss_mb:.0f} MB"
        print(
            f"    {nb.stem}: {run.status} in {run.wall_s:.1f} s, peak RSS {peak}"
            + (f"  <- {run.error}" if run.error else ""),
            flush=True,
        )
        return run

    if html:  # the pages' MathJax, served beside them (formulas render offline)
        try:
            from .pages import copy_mathjax

            copy_mathjax(build_dir)
        except (OSError, ValueError) as err:
            print(f"  (MathJax not copied into {build_dir}: {err})", file=sys.stderr)
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
    parser = OneLineParser(
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
        notebooks = select_notebooks(args.notebooks)
    except ValueError as err:
        parser.refuse(err)
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
        parser.refuse(err)
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
