"""Rebuild the situation reader's head: ``python -m model_runtime.meaning.train``.

Encodes every situation of ``data/situations.json`` with the numpy MiniLM, fits a softmax
head (L2-regularised logistic regression, full-batch gradient descent) on the training split,
fits a temperature on out-of-fold predictions (5-fold cross-validation: the lowest negative
log-likelihood, so that a reported confidence of 0.7 is right about 70 % of the time), and
writes ``data/situation_head.npz`` (tens of kilobytes). The held-out split is only measured.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from . import minilm
from .situation import HEAD_FILE, corpus, features

L2 = 1e-3
STEPS = 3000
LEARNING_RATE = 2.0
FOLDS = 5
# Below this calibrated confidence the reading stays neutral and says so.
THRESHOLD = 0.40
TEMPERATURES = np.exp(np.linspace(np.log(0.05), np.log(5.0), 200))


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(-1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(-1, keepdims=True)


def fit(vectors: np.ndarray, labels: np.ndarray, classes: int, l2: float = L2, steps: int = STEPS,
        learning_rate: float = LEARNING_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Softmax regression weights (classes x dimensions) and biases."""
    weights = np.zeros((classes, vectors.shape[1]))
    bias = np.zeros(classes)
    targets = np.eye(classes)[labels]
    for _ in range(steps):
        error = (_softmax(vectors @ weights.T + bias) - targets) / len(vectors)
        weights -= learning_rate * (error.T @ vectors + l2 * weights)
        bias -= learning_rate * error.sum(0)
    return weights, bias


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature with the lowest negative log-likelihood on data the head never saw."""
    losses = [-np.log(_softmax(logits / t)[np.arange(len(labels)), labels] + 1e-12).mean() for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


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
    encoder = minilm.shared()
    vectors = np.stack([features(encoder, s["script"], s["context"]) for s in situations]).astype(np.float64)
    labels = np.array([families.index(s["family"]) for s in situations])
    training = np.array([s["split"] == "train" for s in situations])
    oof = out_of_fold_logits(vectors[training], labels[training], len(families))
    temperature = fit_temperature(oof, labels[training])
    weights, bias = fit(vectors[training], labels[training], len(families))
    np.savez(out, families=np.array(families), weights=weights.astype(np.float32), bias=bias.astype(np.float32),
             temperature=np.float32(temperature), threshold=np.float32(THRESHOLD))
    heldout = ~training
    report = {"situations": int(len(situations)), "train": int(training.sum()), "heldout": int(heldout.sum()),
              "temperature": round(temperature, 3),
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
