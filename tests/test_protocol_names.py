"""One name per protocol: the retired aliases appear in no notebook, package module or anchor."""

from pathlib import Path

import pytest

from llm4rec_utils.anchors import ANCHORS
from llm4rec_utils.splits import PROTOCOLS, RETIRED_PROTOCOL_NAMES

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted(
    [*(ROOT / "notebooks_py").glob("*.py"), *(ROOT / "llm4rec_utils").rglob("*.py")],
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_no_retired_protocol_name(path):
    text = path.read_text(encoding="utf-8")
    if path.name == "splits.py":  # where the retired names are listed
        text = text.split("RETIRED_PROTOCOL_NAMES", 1)[0]
    for old in RETIRED_PROTOCOL_NAMES:
        assert f'"{old}"' not in text and f"**{old}**" not in text and f"`{old}`" not in text, (
            f"{path.name} still names protocol {old!r}"
        )


def test_anchor_protocols_are_named_protocols_or_their_own():
    for a in ANCHORS:
        assert a.ours_protocol not in RETIRED_PROTOCOL_NAMES
        if a.ours_protocol.startswith(("recbole", "msr", "loo", "time-", "random")):
            assert a.ours_protocol in PROTOCOLS, a.ours_protocol
