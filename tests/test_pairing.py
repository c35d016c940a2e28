from llm4rec_utils.tooling import pairing
from llm4rec_utils.tooling.runner import list_notebooks


def test_every_notebook_has_a_current_twin():
    stale = pairing.stale_twins()
    assert not stale, f"stale py:percent twins {stale}: run `make pair` and commit notebooks_py/"


def test_a_changed_notebook_makes_its_twin_stale(tmp_path, monkeypatch):
    import nbformat

    nb_path = list_notebooks()[0]
    nb = nbformat.read(nb_path, as_version=4)
    monkeypatch.setattr(pairing, "TWIN_DIR", tmp_path)
    copy = tmp_path / nb_path.name
    nbformat.write(nb, copy)
    pairing.write_twins([copy])
    assert pairing.stale_twins([copy]) == []
    nb.cells[0].source += "\nOne more sentence from a teacher."
    nbformat.write(nb, copy)
    assert pairing.stale_twins([copy]) == [copy.stem]
    text = pairing.twin_text(copy)
    assert "# One more sentence from a teacher." in text  # markdown shows as readable lines
