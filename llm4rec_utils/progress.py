"""Progress bars that read right wherever a notebook runs.

Interactively, ``tqdm.auto`` draws a notebook widget. Executed headlessly (papermill, through the
runner), a widget is saved as its first frame, so the HTML page shows "0%" for a loop that
finished; there the plain text bar is used, whose last line is what the page keeps. The runner
sets ``LLM4REC_HEADLESS=1`` for the kernels it starts.

:func:`no_loading_bars` switches off the bars ``transformers`` draws while it builds a model
("Loading weights"), for the package's own loads and a notebook's.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

if os.environ.get("LLM4REC_HEADLESS"):
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm

__all__ = ["no_loading_bars", "tqdm"]


@contextmanager
def no_loading_bars():
    """Within the block, ``transformers`` draws no progress bar. Its "Loading weights" bar
    (103 steps for all-MiniLM-L6-v2, which loads in about a second) tells a reader nothing, and
    under the runner every frame of it would be saved on stderr. Only this block is affected (the
    hook is ``transformers``' own and the previous one is put back); the Hugging Face hub's
    download bars are left as they are."""
    from transformers.utils import logging as hf_logging

    def disabled(factory, args, kwargs):  # every bar built disabled, after any earlier hook
        kwargs = {**kwargs, "disable": True}
        return previous(factory, args, kwargs) if previous is not None else factory(*args, **kwargs)

    previous = hf_logging.set_tqdm_hook(disabled)
    try:
        yield
    finally:
        hf_logging.set_tqdm_hook(previous)
