"""llm4rec_utils: the package behind the llm4rec notebooks.

Modules are named after the pipeline stage they serve: ``data`` (fetch, cache, load),
``preprocess`` (implicit feedback, k-core, ID maps, text), ``splits``, ``sampling``,
``metrics``, ``evaluate``, ``results`` (recorded metrics), ``repro`` (seeds, devices, profiles)
and ``runner`` (papermill).
"""

__version__ = "0.1.0"
