"""llm4rec_utils: the package behind the llm4rec notebooks, one module per pipeline stage.

Data (notebook 01)
    ``data`` fetch, cache, verify and load MovieLens-100K and its knowledge graph;
    ``preprocess`` implicit feedback, k-core, ID maps, item and user text; ``splits`` train /
    validation / test splits with leakage checks; ``sampling`` negative sampling;
    ``constants`` column names.
Models (02, 03, 05, 06)
    ``attention`` scaled dot-product and multi-head attention, the transformer block;
    ``sequential`` SASRec; ``generative`` GPT-style recommender over item tokens;
    ``collaborative`` popularity, ItemKNN, EASE, MF, BPR, ALS; ``graph`` LightGCN;
    ``embeddings`` skip-gram, GloVe, sentence encoders; ``textrnn`` BiLSTM over GloVe;
    ``hybrid`` item-item graphs from text and the knowledge graph; ``bandits`` online choice;
    ``training`` model selection shared by every training loop.
Language models (04, 09)
    ``finetune`` fine-tuning an encoder or decoder; ``adapters`` LoRA and the PEFT family;
    ``prompts`` the TALLRec task as data; ``llmrank`` the LLMRank protocol; ``llm_backends``
    the models that answer a prompt; ``distributed`` TALLRec under accelerate / torchrun.
Evaluation (07)
    ``metrics`` ranking and rating metrics; ``evaluate`` full and sampled ranking;
    ``stats`` bootstrap intervals; ``summary`` each notebook's printed Summary;
    ``feedback`` a retraining feedback loop.
Cost (08)
    ``compute`` parameters, FLOPs, latency, memory, money; ``compress`` int8 and distillation.
Run-time helpers
    ``repro`` seeds, devices, profiles, precision.
Tooling no notebook teaches (``tooling``)
    ``runner`` executes notebooks with papermill; ``report`` the front page and the published
    site; ``pages`` each executed notebook's pages (student edition, teacher copy) with offline
    MathJax; ``results`` the ``results.json`` store; ``artifacts`` the keyed model cache;
    ``files`` digests, atomic writes, checked cache files, safe extraction; ``coursework``
    student editions and grading; ``pairing`` py:percent twins; ``launch`` Colab / Binder cells.
"""

__version__ = "0.1.0"
