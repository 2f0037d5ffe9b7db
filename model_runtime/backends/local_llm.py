"""The Local model backend: a causal language model directory on disk, run with torch +
transformers on CPU or CUDA, with its output constrained to the KeyframeFace JSON.

The same two prompts as the remote backends (the paper's solve prompt, our plan prompt) go
through the model's chat template; decoding is masked by ``constrained.py`` so every answer
parses and every value is in range. Nothing is downloaded: the path must exist.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ..embeddings import quiet_transformers
from ..errors import BackendError
from ..formats.keyframeface_json import keyframe_key
from .base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .builtin import BuiltinBackend
from .constrained import TokenTable, keyframe_grammar, logits_processor, plan_grammar
from .llm import LABELS, build_messages, plan_messages, read_plan_answer, read_solve_answer

INSTALL_HINT = (
    "The Local model backend needs torch and transformers in this Python "
    "(pip install torch==2.13.0 transformers). In Blender, either install them into Blender's Python, "
    "or run 'python -m model_runtime serve --backend local --model PATH' from a Python that has them "
    "and choose the 'Our server' backend."
)


def dependencies_problem() -> str | None:
    """Why the backend cannot run in this Python, or None."""
    import importlib.util

    missing = [name for name in ("torch", "transformers") if importlib.util.find_spec(name) is None]
    return f"{', '.join(missing)} not installed. {INSTALL_HINT}" if missing else None


class LocalModelBackend(Backend):
    name = "local"

    def __init__(self, model_path: str = "", device: str = "auto", plan: str = "model",
                 max_new_tokens: int = 4096, temperature: float = 0.0):
        problem = dependencies_problem()
        if problem:
            raise BackendError(problem)
        path = Path(model_path or "").expanduser()
        if not model_path or not path.is_dir():
            raise BackendError(f"The model directory '{model_path}' does not exist. Point to a folder with "
                               "config.json, the weights and the tokenizer (nothing is downloaded).")
        if not (path / "config.json").exists():
            raise BackendError(f"'{path}' has no config.json: it is not a transformers model directory.")
        if plan not in ("model", "builtin"):
            raise BackendError(f"plan must be 'model' or 'builtin', not {plan!r}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype="auto").to(device)
        except (OSError, ValueError) as error:
            raise BackendError(f"Cannot load the model in '{path}': {error}") from None
        self.model.eval()
        self.device, self.plan_source = device, plan
        self.max_new_tokens, self.temperature = int(max_new_tokens), float(temperature)
        self.table = TokenTable(self.tokenizer)
        self._builtin = BuiltinBackend()
        self._lock = threading.Lock()  # one decode at a time: the model is not re-entrant
        self.model_name = path.name

    def _prompt_ids(self, messages: list[dict]):
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant: "
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(self.device)

    def complete(self, messages: list[dict], grammar) -> str:
        """The model's answer to ``messages``, constrained to ``grammar``."""
        import torch
        from transformers import LogitsProcessorList

        inputs = self._prompt_ids(messages)
        prompt_length = inputs["input_ids"].shape[1]
        processor = logits_processor(grammar, self.table, prompt_length)
        sampling = {"do_sample": True, "temperature": self.temperature} if self.temperature > 0 else {"do_sample": False}
        with self._lock, torch.no_grad():
            output = self.model.generate(
                **inputs, logits_processor=LogitsProcessorList([processor]), max_new_tokens=self.max_new_tokens,
                eos_token_id=self.table.eos, pad_token_id=self.tokenizer.pad_token_id or self.table.eos, **sampling,
            )
        text = self.tokenizer.decode(output[0, prompt_length:], skip_special_tokens=True)
        if not grammar.done(grammar.advance(grammar.start, text) or grammar.start):
            raise BackendError(f"The model stopped before finishing the JSON (max_new_tokens={self.max_new_tokens} "
                               "may be too small).")
        return text

    def plan(self, request: GenerateRequest) -> Plan:
        plan = self._builtin.plan(request)
        if self.plan_source == "builtin":
            return plan
        grammar = plan_grammar(len(plan.keyframes), plan.duration, LABELS)
        plan.keyframes = read_plan_answer(self.complete(plan_messages(request, plan), grammar), plan.duration)
        plan.notes.append(f"Planned by the local model {self.model_name}.")
        return plan

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        text = self.complete(build_messages(descriptions, background, emotion, index), keyframe_grammar(keyframe_key(index)))
        return read_solve_answer(text, index, lambda: self._builtin.solve(descriptions, index, background, emotion))
