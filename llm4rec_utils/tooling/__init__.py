"""Tooling that no notebook teaches: running the notebooks, storing and reporting their
results, caching artefacts between notebooks, coursework, and the Colab/Binder launch cells."""
