"""What a reader sees in the committed notebooks: tagged summary/exercises/references cells, a
link to the source claims, no insider words, and no measured number typed into markdown."""

import re
from pathlib import Path

import nbformat
import pytest

from llm4rec_utils.tooling.runner import REPO_ROOT, list_notebooks

NOTEBOOKS = list_notebooks()
METRIC = (
    r"(?:NDCG|HR|AUC|RMSE|MAE|recall|precision|MAP|MRR|coverage|FLOPs?|items/s|throughput"
    r"|speed-?up)"
)
NUMBER = r"(?<![\w@.])\d[\d,]*\.\d+|(?<![\w@.])\d+(?:\.\d+)?\s?%"
# a metric word then a number in the same clause, or a number then a metric word
MEASURED = re.compile(
    rf"{METRIC}(?:@\d+)?[^.;:()\n]{{0,25}}?(?:{NUMBER})|(?:{NUMBER})\s*(?:×\s*)?{METRIC}",
    re.IGNORECASE,
)
# Constants that are not measurements of this run: published anchors (with their source in the
# same cell) and the expected score of a random ranking.
ALLOWED = [
    "SVD 0.934, SVD++ 0.919 RMSE",  # Surprise's published benchmark (06, cited)
    "HR@1 = 0.05",  # a random order of 20 candidates (04)
    "Precision = 2/5 = 0.4",  # 07's hand-computed toy example
    "NDCG = 0.6241",
    "Precision 3/5 = 0.6",
]
INSIDER = re.compile(r"held-back|the bar\b|seeds? 00[0-4]|\bthe issue\b", re.IGNORECASE)


def measured_numbers(text: str) -> list[str]:
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    return [m.group(0) for m in MEASURED.finditer(text)]


def test_the_scanner_catches_typed_results():
    assert measured_numbers("EASE reaches NDCG@10 ≈ 0.48 here")
    assert measured_numbers("a logistic regression reaches AUC 0.83")
    assert measured_numbers("it runs at 12% coverage")
    assert measured_numbers("SASRec scores 0.112 NDCG@10")
    assert not measured_numbers("NDCG@10 rewards hits near the top; k = 10 items")
    assert not measured_numbers("the 80% quantile of all timestamps")


def cells(path):
    return nbformat.read(path, as_version=4).cells


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_measured_number_in_markdown(path):
    found = {
        i: hits
        for i, c in enumerate(cells(path))
        if c.cell_type == "markdown" and (hits := measured_numbers(c.source))
    }
    assert not found, f"markdown states measured numbers (print them from the run): {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_summary_exercises_references_are_tagged_cells(path):
    tagged = {}
    for c in cells(path):
        for tag in c.metadata.get("tags", []):
            tagged.setdefault(tag, []).append(c.cell_type)
    assert tagged.get("parameters") == ["code"]
    assert tagged.get("summary") == ["code"], "the summary is printed by one code cell"
    assert tagged.get("exercises") == ["markdown"] and tagged.get("references") == ["markdown"]
    order = [
        t for c in cells(path) for t in c.metadata.get("tags", []) if t != "injected-parameters"
    ]
    assert order[-3:] == ["summary", "exercises", "references"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_links_to_the_claims_page_and_no_insider_words(path):
    text = "\n".join(c.source for c in cells(path))
    assert "../docs/claims.md" in text
    assert (REPO_ROOT / "docs" / "claims.md").exists()
    assert not INSIDER.findall(text)


def test_no_insider_words_in_package_and_readme():
    files = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "llm4rec_utils").glob("*.py"))]
    hits = {f.name: INSIDER.findall(f.read_text()) for f in files}
    assert not {k: v for k, v in hits.items() if v}


def test_no_code_cell_over_thirty_five_lines():
    """A cell does one thing; the set-up cell (imports, after ``parameters``) is exempt."""
    long = {}
    for p in NOTEBOOKS:
        code = [(i, c) for i, c in enumerate(cells(p)) if c.cell_type == "code"]
        first = next(
            k for k, (_, c) in enumerate(code) if "parameters" in c.metadata.get("tags", [])
        )
        for i, c in code[first + 2 :]:  # launch, parameters, set-up
            if len(c.source.splitlines()) > 35:
                long[p.stem, i] = len(c.source.splitlines())
    assert not long, f"split these cells: {long}"


def test_claims_page_names_every_article_once():
    text = Path(REPO_ROOT / "docs" / "claims.md").read_text()
    for name in [
        "ChatGPT-rec study",
        "LLM personalisation",
        "LLM-rec potential and challenges",
        "LLM4Rec pipeline",
        "LLM compute limits",
    ]:
        assert f"**{name}**" in text
