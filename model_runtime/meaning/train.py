"""Rebuild the situation reader's head: ``python -m model_runtime.meaning.train``.

Encodes every situation of ``data/situations.json`` with the numpy MiniLM, fits a softmax
head (L2-regularised logistic regression, full-batch Adam from zero weights: deterministic)
on the training split, fits a temperature on out-of-fold predictions (5-fold cross-validation:
the lowest negative log-likelihood, so that a reported confidence of 0.7 is right about 70 % of
the time), and writes ``data/situation_head.npz`` (tens of kilobytes). The held-out split is only
measured. Encodings are kept beside the encoder's weights (``situations-encoded.npz``), so a
retrain after editing the corpus encodes only the situations that changed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import minilm
from .situation import HEAD_FILE, corpus, situation_texts

# Chosen on the dev set (data/eval/situations_dev.json) among 1e-4..1e-3; weaker
# regularisation read the stop-16 corpus better (held-out split and dev both).
L2 = 3e-4
STEPS = 300
LEARNING_RATE = 0.05
ENCODED = minilm.WEIGHTS_DIR / "situations-encoded.npz"
FOLDS = 5
# Below the threshold's calibrated confidence the reading stays neutral and says so. It is the
# highest of these whose out-of-fold accuracy (unsure counted as neutral) is within half a point
# of the best: as much "unsure" as costs no accuracy.
THRESHOLDS = np.round(np.arange(0.20, 0.61, 0.05), 2)
THRESHOLD_SLACK = 0.005
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(5.0), 200))


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(-1, keepdims=True)


def fit(vectors: np.ndarray, labels: np.ndarray, classes: int, l2: float = L2, steps: int = STEPS,
        learning_rate: float = LEARNING_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression weights (classes x dimensions) and biases, by full-batch Adam
    (converges in a few hundred steps where plain gradient descent needed thousands)."""
    vectors = vectors.astype(np.float32)
    parameters = [np.zeros((classes, vectors.shape[1]), np.float32), np.zeros(classes, np.float32)]
    first = [np.zeros_like(p) for p in parameters]
    second = [np.zeros_like(p) for p in parameters]
    targets = np.eye(classes, dtype=np.float32)[labels]
    for step in range(1, steps + 1):
        error = (_softmax(vectors @ parameters[0].T + parameters[1]) - targets) / len(vectors)
        gradients = (error.T @ vectors + l2 * parameters[0], error.sum(0))
        for parameter, gradient, m, v in zip(parameters, gradients, first, second):
            m += 0.1 * (gradient - m)
            v += 0.001 * (gradient * gradient - v)
            parameter -= learning_rate * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
    return parameters[0], parameters[1]


def encoded_features(situations: list[dict], cache=ENCODED) -> np.ndarray:
    """The head's input for every situation; texts encoded before are read back from ``cache``
    (only a cache: where it is missing, unreadable or read-only, the texts are encoded again)."""
    texts = [text for s in situations for text in situation_texts(s["script"], s["context"])]
    known: dict[str, np.ndarray] = {}
    if cache and Path(cache).is_file():
        try:
            with np.load(cache) as stored:
                if stored["vectors"].shape[1:] == (minilm.WIDTH,):
                    known = dict(zip(stored["texts"].tolist(), stored["vectors"]))
        except (OSError, ValueError, KeyError):
            known = {}
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    if missing:
        known.update(zip(missing, minilm.shared().encode(missing)))
        if cache:
            try:
                # Everything known is kept: a retrain on part of the corpus (a test) keeps the rest.
                np.savez(cache, texts=np.array(list(known)), vectors=np.stack(list(known.values())).astype(np.float32))
            except OSError:
                pass
    return np.stack([known[text] for text in texts]).reshape(len(situations), -1)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature with the lowest negative log-likelihood on data the head never saw."""
    losses = [-np.log(_softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12).mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def fit_threshold(probabilities: np.ndarray, labels: np.ndarray, neutral: int) -> float:
    """The neutral threshold, from calibrated predictions on data the head never saw."""
    accuracy = [float((np.where(probabilities.max(1) >= t, probabilities.argmax(1), neutral) == labels).mean())
                for t in THRESHOLDS]
    return float(max(t for t, a in zip(THRESHOLDS, accuracy) if a >= max(accuracy) - THRESHOLD_SLACK))


def out_of_fold_logits(vectors: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """Each row's logits from a head trained without its fold."""
    folds = np.arange(len(labels)) % FOLDS
    logits = np.zeros((len(labels), classes))
    for fold in range(FOLDS):
        inside = folds == fold
        weights, bias = fit(vectors[~inside], labels[~inside], classes)
        logits[inside] = vectors[inside] @ weights.T + bias
    return logits


def train(out=HEAD_FILE, verbose: bool = True) -> dict:
    situations = corpus()
    families = list(dict.fromkeys(s["family"] for s in situations))
    vectors = encoded_features(situations)
    labels = np.array([families.index(s["family"]) for s in situations])
    training = np.array([s["split"] == "train" for s in situations])
    oof = out_of_fold_logits(vectors[training], labels[training], len(families))
    temperature = fit_temperature(oof, labels[training])
    threshold = fit_threshold(_softmax(oof / temperature), labels[training],
                               families.index("neutral") if "neutral" in families else -1)
    weights, bias = fit(vectors[training], labels[training], len(families))
    np.savez(out, families=np.array(families), weights=weights.astype(np.float32), bias=bias.astype(np.float32),
             temperature=np.float32(temperature), threshold=np.float32(threshold))
    heldout = ~training
    report = {"situations": int(len(situations)), "train": int(training.sum()), "heldout": int(heldout.sum()),
              "temperature": round(temperature, 3), "threshold": threshold,
              "cross_validated_accuracy": round(float((oof.argmax(1) == labels[training]).mean()), 3),
              "heldout_accuracy": round(float(((vectors[heldout] @ weights.T + bias).argmax(1) == labels[heldout]).mean()), 3)}
    if verbose:
        print(f"wrote {out}: {report}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.meaning.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HEAD_FILE))
    args = parser.parse_args(argv)
    try:
        train(args.out)
    except minilm.EncoderMissing as error:
        print(f"train: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
