"""The built-in backend plans timed, described keyframes and solves them; it is not canned."""

import numpy as np
import pytest

from model_runtime.arkit import BLENDSHAPES
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.backends.builtin.describe import describe
from model_runtime.backends.builtin.facs import ACTION_UNITS, FaceState, quantize_degree, to_arkit
from model_runtime.backends.builtin.parse import DescriptionParser
from model_runtime.errors import BackendError, InputError
from model_runtime.playback import sample

LINE = GenerateRequest(
    script="I can't believe you did this to me.",
    context="Her best friend just admitted reading her diary.",
    emotion="Hurt, turning into anger",
)


def generate(**changes):
    fields = dict(LINE.__dict__)
    fields.update(changes)
    return get_backend("builtin").generate(GenerateRequest(**fields))


def expression(track, prefix=""):
    return np.array([[k.weights[n] for n in BLENDSHAPES] for k in track.keyframes])


def test_plans_several_timed_described_keyframes():
    track = generate()
    times = [k.time for k in track.keyframes]
    assert 3 <= len(track.keyframes) <= 8
    assert times == sorted(times) and times[0] == 0.0 and times[-1] == pytest.approx(track.duration)
    assert track.keyframes[0].label == "onset" and track.keyframes[-1].label == "release"
    assert any(k.label == "shift" for k in track.keyframes)  # hurt -> anger is a transition
    assert len({k.description for k in track.keyframes}) == len(track.keyframes)
    # Timing comes from the words, not a 1 s grid: 9 syllables at a conversational rate.
    assert 2.0 < track.duration < 5.0
    assert len({round(b - a, 2) for a, b in zip(times, times[1:])}) > 1


def test_longer_line_gets_more_beats_not_denser_ones():
    short = generate(script="Get out.")
    long = generate(script="Get out. I never want to see you again, not here, not anywhere, not ever. Do you understand me?")
    assert len(long.keyframes) > len(short.keyframes)
    gaps = np.diff([k.time for k in long.keyframes])
    assert gaps.min() >= 0.29


def test_keyframes_are_what_their_descriptions_say():
    parser = DescriptionParser()
    for keyframe in generate().keyframes:
        weights, pose = to_arkit(parser.parse(keyframe.description).state)
        assert max(abs(weights[n] - keyframe.weights[n]) for n in BLENDSHAPES) < 1e-6


def test_description_round_trip_for_every_action_unit_and_side():
    parser = DescriptionParser()
    for au, spec in ACTION_UNITS.items():
        for level in (0.15, 0.3, 0.5, 0.7, 0.88):
            for side in ((None, "Left", "Right") if spec["sided"] else (None,)):
                if side is None and spec.get("exclusive_sides"):
                    continue
                state = FaceState()
                state.set(au, level, side)
                text = describe(state)
                read = parser.parse(text).state
                assert read.get(au, side or "Left") == pytest.approx(quantize_degree(level)[1]), text
                if side:
                    other = "Right" if side == "Left" else "Left"
                    assert read.get(au, other) == 0.0, text


def test_paper_style_descriptions_solve_to_what_they_say():
    backend = get_backend("builtin")
    solved = backend.solve(["The gaze is lowered, the inner brows lift slightly, and the lips press together with visible tension."], 0, "", "")
    w = solved.weights
    assert w["eyeLookDownLeft"] > 0.3 and w["eyeLookDownRight"] > 0.3
    assert 0.15 < w["browInnerUp"] < 0.45
    assert w["mouthPressLeft"] > 0.4 and w["mouthPressRight"] > 0.4
    assert w["mouthSmileLeft"] == 0 and w["jawOpen"] == 0 and w["browDownLeft"] == 0
    assert solved.pose["leftEyePitch"] < 0
    smirk = backend.solve(["A smirk on the left, the brows do not move."], 0, "", "").weights
    assert smirk["mouthSmileLeft"] > 0.2 and smirk["mouthSmileRight"] == 0
    negated = backend.solve(["She does not smile; the brows pull down and together."], 0, "", "").weights
    assert negated["mouthSmileLeft"] == 0 and negated["browDownLeft"] > 0.3


def test_seeds_vary_takes_deterministically():
    a, b, c = generate(seed=1), generate(seed=1), generate(seed=2)
    assert a.to_json() == b.to_json()
    assert a.to_json() != c.to_json()
    times = np.linspace(0, min(a.duration, c.duration), 60)
    assert np.abs(sample(a, times) - sample(c, times)).max() > 0.05


def test_intensity_scales_expression_and_articulation():
    # Issue 10: --intensity scales articulation as well as expression, but a low intensity
    # still speaks (the mouth moves, only less).
    full, half = generate(intensity=1.0), generate(intensity=0.4)
    assert expression(half).sum() < 0.7 * expression(full).sum()
    jaw = {name: max(v for _, v in track.layers["lipsync"].channels["jawOpen"]) for name, track in
           (("full", full), ("half", half))}
    assert 0.15 < jaw["half"] < 0.85 * jaw["full"]


def test_masked_emotion_differs_from_its_parts():
    masked = generate(emotion="Anxiety concealed by a restrained smile")
    anxious = generate(emotion="anxiety")
    smiling = generate(emotion="happy")

    def apex(track, name):
        return max(k.weights[name] for k in track.keyframes)

    assert apex(masked, "browInnerUp") > 0.15          # felt anxiety leaks in the brows
    assert apex(masked, "mouthSmileLeft") > 0.1         # the displayed smile is on the mouth
    assert apex(anxious, "mouthSmileLeft") < apex(masked, "mouthSmileLeft")
    assert apex(smiling, "cheekSquintLeft") > apex(masked, "cheekSquintLeft")  # not a felt smile


def test_values_in_range_and_layers_present():
    track = generate()
    values = sample(track, np.linspace(0, track.duration, 200))
    assert values[:, :52].min() >= 0 and values[:, :52].max() <= 1
    assert values[:, 52:].min() >= -1 and values[:, 52:].max() <= 1
    assert {"lipsync", "blinks"} <= set(track.layers)


@pytest.mark.parametrize("script", [
    "我不敢相信你会这样对我。",
    "Я не могу поверить, что ты так со мной поступила.",
    "😡😡 you did WHAT?! 🙃",
    "... !?",
    "word " * 1000,
])
def test_any_text_gets_a_performance(script):
    track = generate(script=script)
    assert len(track.keyframes) >= 2 and track.duration > 0
    if script.startswith("我"):
        assert any("approximate" in note for note in track.notes)


def test_unknown_emotion_falls_back_and_says_so():
    track = generate(emotion="glorbish")
    assert any("glorbish" in note for note in track.notes)


@pytest.mark.parametrize("changes, message", [
    ({"script": ""}, "empty"),
    ({"script": "   \n "}, "empty"),
    ({"script": "x" * 20001}, "limit"),
    ({"intensity": float("nan")}, "finite"),
    ({"fps": 0}, "outside"),
    ({"seed": 1.5}, "whole number"),
])
def test_bad_requests_get_clear_messages(changes, message):
    with pytest.raises(InputError, match=message):
        generate(**changes)


def test_unknown_backend():
    with pytest.raises(BackendError, match="Unknown backend"):
        get_backend("telepathy")


# --- issue 4: the built-in performance model -------------------------------------------------

def _value_at(track, name, time):
    from model_runtime.playback import sample_channel

    return float(sample_channel(track, name, [time])[0])


def test_emotion_sets_the_speaking_rate():
    line = "I never thought it would end like this."
    sad = generate(script=line, emotion="devastated")
    excited = generate(script=line, emotion="excited")
    assert sad.duration > excited.duration * 1.15


def test_intensity_words_order_the_expression():
    def anger(word):
        track = generate(script="Stop it.", emotion=word)
        return max(k.weights["browDownLeft"] for k in track.keyframes)

    assert anger("irritated") < anger("angry") < anger("furious")


def test_question_raises_the_brows_near_its_end():
    track = generate(script="You really thought I wouldn't find out?", emotion="hurt")
    beats = [k for k in track.keyframes if k.label not in ("onset", "release", "hold", "anticipation")]
    assert beats[-1].label == "question"
    assert beats[-1].weights["browInnerUp"] >= max(k.weights["browInnerUp"] for k in beats[:-1] or [beats[-1]])


def test_strong_beats_are_anticipated():
    track = generate(script="Listen to me. I am NOT going back there!", emotion="angry")
    labels = [k.label for k in track.keyframes]
    assert "emphasis" in labels and "anticipation" in labels
    assert labels.index("anticipation") == labels.index("emphasis") - 1


def test_blends_and_masks_show_both_emotions_in_different_regions():
    bitter = generate(script="I'm proud of you, and I'll miss you.", emotion="bittersweet")
    apex = max(bitter.keyframes[1:-1], key=lambda k: sum(k.weights.values()))
    assert apex.weights["browInnerUp"] > 0.3 and apex.weights["mouthSmileLeft"] > 0.3
    assert any("Opposite emotions" in n for n in generate(emotion="happy and sad at once").notes)


def test_context_implies_gaze():
    track = generate(script="I was just remembering the old house.", context="She looks at an old photo.", emotion="wistful")
    pitches = [k.pose["leftEyePitch"] for k in track.keyframes]
    assert min(pitches) < -0.05  # the photo draws the eyes down


def test_lip_sync_uses_the_pronouncing_dictionary():
    from model_runtime import pronouncing
    from model_runtime.lipsync import letter_to_sound, phonemes_for

    assert pronouncing.available()
    assert phonemes_for("believe") == ("B", "IH", "L", "IY", "V")
    assert phonemes_for("zorbulax") == letter_to_sound("zorbulax") and len(letter_to_sound("zorbulax")) >= 6


def test_lip_sync_closes_for_bilabials_and_rounds_for_oo():
    track = generate(script="Mama moved my boom box.", emotion="neutral")
    words = {w: None for w in ("Mama", "boom")}
    from model_runtime.script_timing import time_script

    lip = track.layers["lipsync"].channels
    assert max(v for _, v in lip["mouthPucker"]) > 0.4      # "oo" in boom, moved
    assert max(v for _, v in lip["mouthPressLeft"]) > 0.2   # m, b
    gasp = generate(script="Mama!", emotion="shocked")
    assert max(v for _, v in gasp.layers["lipsync"].channels.get("mouthClose", [(0, 0)])) > 0.1
    assert words


def test_smile_and_oo_combine_without_breaking_either():
    track = generate(script="Ooh, you're so smooth.", emotion="delighted")
    lip = track.layers["lipsync"].channels
    when = max(lip["mouthPucker"], key=lambda key: key[1])[0]
    assert _value_at(track, "mouthPucker", when) > 0.3
    assert _value_at(track, "mouthSmileLeft", when) > 0.2


def test_non_latin_text_gets_a_syllable_lip_sync():
    track = generate(script="我不敢相信你会这样对我。", emotion="angry")
    jaw = [v for _, v in track.layers["lipsync"].channels["jawOpen"]]
    openings = sum(1 for a, b, c in zip(jaw, jaw[1:], jaw[2:]) if b > a and b >= c and b > 0.15)
    assert 7 <= openings <= 12  # one per character-syllable, roughly


def test_blinks_follow_the_emotion_and_avoid_apexes():
    script = " ".join(["I keep telling you the same thing over and over again."] * 4)
    anxious = generate(script=script, emotion="anxious", seed=3)
    angry = generate(script=script, emotion="angry", seed=3)

    def blinks(track):
        return [t for t, v in track.layers["blinks"].channels["eyeBlinkLeft"] if v == 1.0]

    assert len(blinks(anxious)) > len(blinks(angry))
    minutes = anxious.duration / 60
    assert 8 <= len(blinks(anxious)) / minutes <= 40
    apexes = [k.time for k in anxious.keyframes if k.label in ("apex", "emphasis", "question", "shift")]
    for closed in blinks(anxious):
        assert all(abs(closed - 0.09 - apex) >= 0.3 for apex in apexes)


def test_mirrored_sides_stay_on_their_side():
    backend = get_backend("builtin")
    left = backend.solve(["The left mouth corner pulls up and the left brow lowers."], 0, "", "").weights
    right = backend.solve(["The right mouth corner pulls up and the right brow lowers."], 0, "", "").weights
    assert left["mouthSmileLeft"] > 0.3 and left["mouthSmileRight"] == 0
    assert right["mouthSmileRight"] == pytest.approx(left["mouthSmileLeft"])
    assert right["browDownRight"] == pytest.approx(left["browDownLeft"]) and right["browDownLeft"] == 0


def test_contradictory_and_unknown_emotions_are_handled():
    calm_fury = generate(emotion="calm fury")
    assert max(k.weights["browDownLeft"] for k in calm_fury.keyframes) > 0.2
    vague = generate(emotion="kind of meh", script="Thank you so much, this is wonderful!")
    assert any("not recognised" in n or "No known emotion" in n for n in vague.notes)
    assert max(k.weights["mouthSmileLeft"] for k in vague.keyframes) > 0.2  # read from the script


def test_evaluation_meets_its_targets():
    from model_runtime.evaluation import run

    summary = run("builtin", repeats=1)["summary"]
    assert summary["recognised"] >= 0.9
    assert summary["descriptions_agree"] >= 0.9
    assert summary["out_of_range_samples"] == 0
    assert summary["jitter_p95"] < 0.05
    assert 0.6 <= summary["lip_openings_per_syllable"] <= 1.4
