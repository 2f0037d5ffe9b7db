"""A tiny random-weight causal language model built on the spot (nothing downloaded): a
byte-level BPE tokenizer trained on KeyframeFace-shaped text and a 2-layer Llama."""

from __future__ import annotations

import json
from pathlib import Path

from model_runtime.arkit import BLENDSHAPES, POSE
from model_runtime.backends.llm import LABELS
from model_runtime.formats.keyframeface_json import SYSTEM_MESSAGE, to_keyframeface

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    corpus = [SYSTEM_MESSAGE, json.dumps({"keyframes": [{"time": 0.5, "label": l, "description": "the brows lift"} for l in LABELS]})]
    corpus += [json.dumps(to_keyframeface({n: 0.125 for n in BLENDSHAPES}, {n: -0.25 for n in POSE}, i)) for i in range(3)]
    corpus += ["Keyframe Description Sequence: Background: Emotion: Task Instruction: Generate the facial expression"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    specials = ["<|end|>", "<|system|>", "<|user|>", "<|assistant|>", "<|pad|>"]
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator(corpus, trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="<|end|>", pad_token="<|pad|>")
    wrapped.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(folder)
    config = LlamaConfig(vocab_size=len(wrapped), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=8192,
                         eos_token_id=wrapped.eos_token_id, pad_token_id=wrapped.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder
