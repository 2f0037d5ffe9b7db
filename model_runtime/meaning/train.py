"""Rebuild the situation reader's head: ``python -m model_runtime.meaning.train``.

Encodes every situation of ``data/situations.json`` with the numpy MiniLM, fits a softmax
head (L2-regularised logistic regression, full-batch Adam from zero weights: deterministic)
on the training split, fits a temperature and the neutral threshold on predictions for
situations the head never saw, and writes ``data/situation_head.npz`` (tens of kilobytes). The
held-out split is only measured. Encodings are kept beside the encoder's weights
(``situations-encoded.npz``), so a retrain after editing the corpus encodes only the situations
that changed.

Cross-hand: the corpus has situations from several writers ("hand" in the corpus). A head
reads its own writers' style far better than a stranger's (stop 16: 86 % on the dev set it was
tuned on, 72 % on a fresh hand's test set), so the calibration uses leave-one-hand-out
predictions (each outside writer's situations read by a head trained without that writer) and
``--cross-hand`` prints leave-one-hand-out accuracies for every hand, the project's own
included, and their mean: the honest estimate of a fresh hand's figure, and what changes to
the head or the corpus are chosen by.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from . import minilm
from .situation import HEAD_FILE, OWN_HAND, READ_LAYERS, corpus, lay_out, situation_texts

# Chosen on the dev set (data/eval/situations_dev.json) among 1e-4..1e-3; weaker
# regularisation read the stop-16 corpus better (held-out split and dev both).
L2 = 3e-4
STEPS = 300
LEARNING_RATE = 0.05
ENCODED = minilm.WEIGHTS_DIR / "situations-encoded.npz"
FOLDS = 5
# Below the threshold's calibrated confidence the reading stays neutral and says so. It is the
# highest of these whose accuracy on unseen situations (unsure counted as neutral) is within half
# a point of the best: as much "unsure" as costs no accuracy.
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


def encoded_features(situations: list[dict], cache=ENCODED, layers=READ_LAYERS) -> np.ndarray:
    """The head's input for every situation; texts encoded before are read back from ``cache``
    (only a cache: where it is missing, unreadable, read-only or holds other layers, the texts
    are encoded again)."""
    texts = [text for s in situations for text in situation_texts(s["script"], s["context"])]
    layers = tuple(layers)
    known: dict[str, np.ndarray] = {}
    if cache and Path(cache).is_file():
        try:
            with np.load(cache) as stored:
                if stored["vectors"].shape[1:] == (len(layers), minilm.WIDTH) and tuple(stored["layers"]) == layers:
                    known = dict(zip(stored["texts"].tolist(), stored["vectors"]))
        except (OSError, ValueError, KeyError):
            known = {}
    missing = [text for text in dict.fromkeys(texts) if text not in known]
    if missing:
        known.update(zip(missing, minilm.shared().encode(missing, layers=layers)))
        if cache:
            try:
                # Everything known is kept: a retrain on part of the corpus (a test) keeps the rest.
                np.savez(cache, texts=np.array(list(known)), layers=np.array(layers),
                         vectors=np.stack(list(known.values())).astype(np.float32))
            except OSError:
                pass
    return lay_out(np.stack([known[text] for text in texts]).reshape(len(situations), -1, len(layers), minilm.WIDTH))


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


def out_of_hand_logits(vectors: np.ndarray, labels: np.ndarray, hands: np.ndarray, classes: int) -> np.ndarray:
    """The logits of each outside writer's situations from a head trained on every other hand
    (rows of the project's own hand are not predicted: their rows come back as NaN)."""
    logits = np.full((len(labels), classes), np.nan)
    for hand in dict.fromkeys(hands[hands != OWN_HAND]):
        inside = hands == hand
        weights, bias = fit(vectors[~inside], labels[~inside], classes)
        logits[inside] = vectors[inside] @ weights.T + bias
    return logits


def as_read(probabilities: np.ndarray, threshold: float, neutral: int) -> np.ndarray:
    """The family the reader shows: the most likely, neutral below the threshold."""
    return np.where(probabilities.max(1) >= threshold, probabilities.argmax(1), neutral)


def cross_hand(vectors: np.ndarray, labels: np.ndarray, hands: np.ndarray, classes: int,
               temperature: float, threshold: float, neutral: int) -> dict:
    """Leave-one-hand-out over every hand, the project's own included: each writer's situations
    read (as the reader shows them, unsure = neutral) by a head trained on every other hand, and
    the mean over hands (each hand counts once, whatever its size): the figure to choose by."""
    report = {}
    for hand in dict.fromkeys(hands):
        inside = hands == hand
        weights, bias = fit(vectors[~inside], labels[~inside], classes)
        read = as_read(_softmax((vectors[inside] @ weights.T + bias) / temperature), threshold, neutral)
        report[hand] = round(float((read == labels[inside]).mean()), 3)
    report["mean"] = round(float(np.mean(list(report.values()))), 3)
    return report


def train(out=HEAD_FILE, verbose: bool = True, measure_hands: bool = False) -> dict:
    situations = corpus()
    families = list(dict.fromkeys(s["family"] for s in situations))
    neutral = families.index("neutral") if "neutral" in families else -1
    vectors = encoded_features(situations)
    labels = np.array([families.index(s["family"]) for s in situations])
    training = np.array([s["split"] == "train" for s in situations])
    hands = np.array([s.get("hand", OWN_HAND) for s in situations])
    # Calibrated on situations the head never saw: where outside writers' situations are in the
    # corpus, on those read by a head trained without their writer (a fresh hand is what the
    # reader meets); otherwise on 5-fold out-of-fold predictions.
    unseen = out_of_hand_logits(vectors[training], labels[training], hands[training], len(families))
    predicted = ~np.isnan(unseen[:, 0])
    if predicted.any():
        calibration, calibration_labels = unseen[predicted], labels[training][predicted]
    else:
        calibration, calibration_labels = out_of_fold_logits(vectors[training], labels[training], len(families)), labels[training]
    temperature = fit_temperature(calibration, calibration_labels)
    threshold = fit_threshold(_softmax(calibration / temperature), calibration_labels, neutral)
    weights, bias = fit(vectors[training], labels[training], len(families))
    np.savez(out, families=np.array(families), weights=weights.astype(np.float32), bias=bias.astype(np.float32),
             temperature=np.float32(temperature), threshold=np.float32(threshold), layers=np.array(READ_LAYERS))
    heldout = ~training
    report = {"situations": int(len(situations)), "train": int(training.sum()), "heldout": int(heldout.sum()),
              "hands": {hand: int((hands == hand).sum()) for hand in dict.fromkeys(hands)},
              "temperature": round(temperature, 3), "threshold": threshold,
              "calibrated_on": "other hands" if predicted.any() else "5-fold out-of-fold",
              "unseen_accuracy": round(float((calibration.argmax(1) == calibration_labels).mean()), 3),
              "heldout_accuracy": round(float(((vectors[heldout] @ weights.T + bias).argmax(1) == labels[heldout]).mean()), 3)}
    if measure_hands:
        report["cross_hand"] = cross_hand(vectors, labels, hands, len(families), temperature, threshold, neutral)
    if verbose:
        print(f"wrote {out}: {json.dumps(report)}")
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_runtime.meaning.train", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HEAD_FILE))
    parser.add_argument("--cross-hand", action="store_true",
                        help="also measure each hand (writer) read by a head trained on every other hand, "
                             "and the mean over hands")
    args = parser.parse_args(argv)
    try:
        train(args.out, measure_hands=args.cross_hand)
    except minilm.EncoderMissing as error:
        print(f"train: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
