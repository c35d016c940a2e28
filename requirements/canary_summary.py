"""The weekly canary's report: which tests and notebooks broke (from pytest's junit XML) and
which installed versions differ from requirements/lock.txt, as Markdown for the job summary.

    python requirements/canary_summary.py build/canary/junit.xml >> "$GITHUB_STEP_SUMMARY"
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from importlib import metadata
from pathlib import Path

LOCK = Path(__file__).with_name("lock.txt")


def broken(junit: Path) -> list[tuple[str, str]]:
    """(test id, first line of its failure) for every failed or erroring test."""
    if not junit.exists():
        return [("(no junit file: the install or collection failed, see the log)", "")]
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        for bad in [*case.findall("failure"), *case.findall("error")]:
            name = f"{case.get('classname', '')}::{case.get('name', '')}"
            message = (bad.get("message") or "").strip()
            out.append((name, message.splitlines()[0][:200] if message else ""))
    return out


def locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", LOCK.read_text(), re.M)
    return {re.sub(r"[-_.]+", "-", n).lower(): v for n, v in pins}


def drift() -> list[tuple[str, str, str]]:
    """(package, locked version, installed version) where the two differ."""
    pins, out = locked(), []
    for dist in metadata.distributions():
        name = re.sub(r"[-_.]+", "-", dist.metadata["Name"]).lower()
        if name in pins and pins[name] != dist.version:
            out.append((name, pins[name], dist.version))
    return sorted(out)


def main(junit: str) -> None:
    bad = broken(Path(junit))
    print("## Canary: the newest releases within pyproject.toml's ranges\n")
    if bad:
        notebooks = sorted({m.group(0) for n, _ in bad if (m := re.search(r"\d\d_\w+", n))})
        print(f"**{len(bad)} broken.** Notebooks: {', '.join(notebooks) or 'none'}\n")
        print("| test | failure |\n| --- | --- |")
        for name, msg in bad:
            print(f"| `{name}` | {msg.replace('|', '/')} |")
    else:
        print("Every test passed.")
    print("\n### Installed versions that differ from the lock\n")
    rows = drift()
    print("| package | lock | installed |\n| --- | --- | --- |" if rows else "none")
    for name, old, new in rows:
        print(f"| {name} | {old} | {new} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/canary/junit.xml")
