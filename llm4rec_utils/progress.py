"""Progress bars that read right wherever a notebook runs.

Interactively, ``tqdm.auto`` draws a notebook widget. Executed headlessly (papermill, through the
runner), a widget is saved as its first frame, so the HTML page shows "0%" for a loop that
finished; there the plain text bar is used, whose last line is what the page keeps. The runner
sets ``LLM4REC_HEADLESS=1`` for the kernels it starts.
"""

from __future__ import annotations

import os

if os.environ.get("LLM4REC_HEADLESS"):
    from tqdm.std import tqdm
else:
    from tqdm.auto import tqdm

__all__ = ["tqdm"]
