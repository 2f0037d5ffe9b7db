"""Acting (issue 10): delivery and a mouth that speaks in character, through the public
generate path of the built-in backend, measured on the composed performance (expression +
lip sync + blinks, as Blender plays it)."""

import numpy as np
import pytest

from model_runtime.arkit import PARAMETERS
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.backends.builtin.delivery import DELIVERIES, read_delivery
from model_runtime.lipsync import viseme_sequence
from model_runtime.playback import frame_times, sample

LINE = "Maybe he broke the bottle, but I promised my mother a better map."
INDEX = {name: i for i, name in enumerate(PARAMETERS)}
LIP_EXCURSION = ("mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
                 "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight")


@pytest.fixture(scope="module")
def backend():
    return get_backend("builtin", paraphrases=False)


def perform(backend, emotion="", context="", script=LINE, intensity=1.0, seed=0):
    request = GenerateRequest(script=script, context=context, emotion=emotion, seed=seed, intensity=intensity)
    return backend.generate(request)


def speech_samples(track):
    """Composed values over the whole line, 60 samples a second."""
    _, times = frame_times(track, 60)
    return sample(track, times)


def peak(values, *names):
    return float(max(values[:, INDEX[n]].max() for n in names))


def lip_movement(track):
    """Mean absolute frame-to-frame movement of jaw and lips in the lip-sync layer (articulation)."""
    values = speech_samples(track)
    names = ("jawOpen",) + LIP_EXCURSION
    return float(np.abs(np.diff(values[:, [INDEX[n] for n in names]], axis=0)).sum(axis=1).mean())


@pytest.mark.parametrize("quiet, loud, where", [
    ("whispering", "shouting", "emotion"),
    ("she whispers to the operator", "she shouts across the hangar", "context"),
])
def test_whisper_opens_less_than_said_and_shout_more(backend, quiet, loud, where):
    def made(text):
        return perform(backend, **({"emotion": text} if where == "emotion" else {"context": text}))

    whispered, said, shouted = made(quiet), perform(backend), made(loud)
    jaw = [peak(speech_samples(t), "jawOpen") for t in (whispered, said, shouted)]
    assert jaw[0] < 0.7 * jaw[1] and jaw[2] > 1.2 * jaw[1], jaw
    moves = [lip_movement(t) for t in (whispered, said, shouted)]
    assert moves[0] < moves[1] < moves[2], moves
    assert any("Delivery: whisper" in note for note in whispered.notes)
    assert not any("not recognised" in note for note in whispered.notes + shouted.notes)


def test_script_capitals_and_exclamations_raise_the_voice(backend):
    plain = peak(speech_samples(perform(backend, script="get out of my house now.")), "jawOpen")
    shouted_track = perform(backend, script="GET OUT OF MY HOUSE NOW!")
    assert peak(speech_samples(shouted_track), "jawOpen") > 1.2 * plain
    assert shouted_track.analysis["delivery"]["name"] == "shout"
    assert read_delivery("", "", "Get out!")[0].name == "raise"


def test_delivery_vocabulary_is_data_and_emotion_words_stay_emotions():
    for name in ("whisper", "murmur", "mutter", "say", "raise", "shout", "scream", "deadpan", "clenched",
                 "singsong", "sarcastic", "sobbing", "laughing"):
        assert name in DELIVERIES
    delivery, remaining = read_delivery("fearful whisper")
    assert delivery.name == "whisper" and remaining == "fearful"
    delivery, remaining = read_delivery("sarcastic amusement")
    assert delivery.name == "sarcastic" and remaining == "sarcastic amusement"
    delivery, remaining = read_delivery("through clenched teeth")
    assert delivery.name == "clenched" and remaining == "anger"  # only a delivery: what it implies
    assert read_delivery("", "The soldier mutters to himself.")[0].name == "mutter"
    assert read_delivery("")[0].name == "say"


def test_deadpan_hardly_moves_the_face_and_sobbing_pauses_longer(backend):
    angry, deadpan = perform(backend, "angry"), perform(backend, "angry, deadpan")
    assert sum(k.weights["browDownLeft"] for k in deadpan.keyframes) < 0.7 * sum(
        k.weights["browDownLeft"] for k in angry.keyframes)
    sad, sobbing = perform(backend, "sad"), perform(backend, "sobbing")
    assert sobbing.duration > sad.duration
    assert sobbing.analysis["delivery"]["name"] == "sobbing"


def test_bilabials_always_close(backend):
    """At every p, b, m the composed lips meet: the jaw is closed (or mouthClose matches it) and
    nothing the emotion or delivery added keeps them apart."""
    for emotion in ("furious", "shouting", "screaming in terror", "quiet grief", "sarcastic amusement", "joyful"):
        request = GenerateRequest(script=LINE, emotion=emotion).validated()
        plan = backend.plan(request)
        track = backend.generate(request)
        closures = [time for time, viseme in viseme_sequence(plan.timing.words) if viseme == "PP"]
        values = sample(track, np.array(closures))
        apart = values[:, INDEX["jawOpen"]] - values[:, INDEX["mouthClose"]]
        assert apart.max() < 0.05, (emotion, apart)
        for name in ("mouthUpperUpLeft", "mouthLowerDownLeft", "mouthFunnel"):
            assert values[:, INDEX[name]].max() < 0.06, (emotion, name)


def test_anger_bares_teeth_on_stress_and_does_not_round(backend):
    said, furious = speech_samples(perform(backend)), speech_samples(perform(backend, "furious"))
    assert peak(furious, "mouthUpperUpLeft", "mouthUpperUpRight") > 0.35
    assert peak(furious, "mouthUpperUpLeft") > peak(said, "mouthUpperUpLeft") + 0.15
    assert peak(furious, "mouthFunnel") < 0.75 * peak(said, "mouthFunnel")
    assert peak(furious, "mouthPressLeft") > 0.4  # tight between words


def test_quiet_grief_keeps_the_mouth_small_and_down(backend):
    said, grief = speech_samples(perform(backend)), speech_samples(perform(backend, "quiet grief"))
    assert peak(grief, "jawOpen") < 0.8 * peak(said, "jawOpen")
    assert peak(grief, "mouthFrownLeft") > 0.3


def test_sarcasm_is_one_sided_with_a_tilt(backend):
    track = perform(backend, "sarcastic amusement")
    values = speech_samples(track)
    left, right = values[:, INDEX["mouthSmileLeft"]], values[:, INDEX["mouthSmileRight"]]
    assert np.abs(left - right).max() > 0.35
    assert peak(values, "mouthDimpleLeft", "mouthDimpleRight") > 0.2
    assert max(abs(k.pose["headRoll"]) for k in track.keyframes) > 0.04
    assert peak(values, "jawOpen") < 0.65


def beat_faces(backend, emotion, seeds=range(4), script=LINE):
    """The written faces of every beat (apex, emphasis, question, shift) over several seeds, so
    every prototype variant of the emotion is seen: one row of 52 weights per beat."""
    rows = []
    for seed in seeds:
        track = perform(backend, emotion, script=script, seed=seed)
        rows += [[k.weights[name] for name in PARAMETERS[:52]] for k in track.keyframes
                 if k.label in ("apex", "emphasis", "question", "shift")]
    return np.array(rows)


# What a viewer reads each emotion by (FACS: anger AU4+5+7+23/24, sadness AU1+4+15+17 with the
# lids lowered, disgust AU9+10 with the cheeks raised and the lower lip pushed up, fear
# AU1+2+4+5+20), at the plain word's intensity, at every beat of every variant: (shape, at least)
# and (shape, at most). Sadness draws the brows only a little: on the real heads browDown at
# half of browInnerUp renders the lifted inner brows flat (README gallery).
SIGNATURES = {
    "angry": ([("browDownLeft", 0.65), ("browDownRight", 0.65), ("eyeSquintLeft", 0.5), ("cheekSquintLeft", 0.1)],
              [("browInnerUp", 0.05)]),
    "sad": ([("browInnerUp", 0.6), ("browDownLeft", 0.1), ("mouthFrownLeft", 0.6), ("mouthFrownRight", 0.6),
             ("mouthShrugLower", 0.45), ("eyeBlinkLeft", 0.2), ("eyeLookDownLeft", 0.3)],
            [("browOuterUpLeft", 0.05), ("browDownLeft", 0.25)]),
    "disgusted": ([("noseSneerLeft", 0.6), ("noseSneerRight", 0.6), ("mouthUpperUpLeft", 0.5), ("mouthUpperUpRight", 0.5),
                   ("cheekSquintLeft", 0.45), ("mouthShrugLower", 0.45), ("browDownLeft", 0.3)],
                  [("browInnerUp", 0.05)]),
    "terrified": ([("browInnerUp", 0.6), ("eyeWideLeft", 0.6), ("mouthStretchLeft", 0.4)], []),
}


@pytest.mark.parametrize("emotion", SIGNATURES)
def test_each_emotion_shows_its_signature_at_every_beat(backend, emotion):
    faces = beat_faces(backend, emotion)
    at_least, at_most = SIGNATURES[emotion]
    for name, level in at_least:
        assert faces[:, INDEX[name]].min() >= level, (emotion, name, faces[:, INDEX[name]].min())
    for name, level in at_most:
        assert faces[:, INDEX[name]].max() <= level, (emotion, name, faces[:, INDEX[name]].max())


def test_fear_lifts_the_inner_brows_more_than_the_outer_unlike_surprise(backend):
    fear, surprise = beat_faces(backend, "terrified"), beat_faces(backend, "astonished")
    assert (fear[:, INDEX["browInnerUp"]] > fear[:, INDEX["browOuterUpLeft"]] + 0.15).all()
    assert surprise[:, INDEX["browOuterUpLeft"]].mean() > fear[:, INDEX["browOuterUpLeft"]].mean() + 0.2


def test_disgust_raises_the_upper_lip_over_a_pushed_up_lower_lip_and_differs_from_anger(backend):
    """The heads' nose wrinkle moves half as far as their upper-lip raiser (devtools.shape_reach),
    so disgust reads by the raised upper lip with the cheeks up; the chin raiser pushes the
    lower lip up under it (a closed 'ugh', not an open snarl), symmetric (contempt is one-sided)."""
    disgust, anger = beat_faces(backend, "disgusted"), beat_faces(backend, "angry")
    assert (disgust[:, INDEX["mouthShrugLower"]] >= 0.6 * disgust[:, INDEX["mouthUpperUpLeft"]]).all()
    assert (disgust[:, INDEX["jawOpen"]] < 0.1).all()
    assert np.allclose(disgust[:, INDEX["mouthUpperUpLeft"]], disgust[:, INDEX["mouthUpperUpRight"]])
    # Anger is in the brows and lids, disgust in the nose, upper lip and cheeks.
    assert disgust[:, INDEX["mouthUpperUpLeft"]].mean() > anger[:, INDEX["mouthUpperUpLeft"]].mean() + 0.3
    assert anger[:, INDEX["browDownLeft"]].mean() > disgust[:, INDEX["browDownLeft"]].mean() + 0.2
    assert disgust[:, INDEX["noseSneerLeft"]].mean() > anger[:, INDEX["noseSneerLeft"]].mean() + 0.4
    assert disgust[:, INDEX["cheekSquintLeft"]].mean() > anger[:, INDEX["cheekSquintLeft"]].mean() + 0.1


def test_sadness_pushes_the_lower_lip_up_while_speaking(backend):
    """The chin raiser (AU17) closes rather than opens the mouth, so speech keeps it: a sad
    mouth stays small and pouting over the words, not only between them."""
    track = perform(backend, "sad")
    words = backend.plan(GenerateRequest(script=LINE, emotion="sad").validated()).timing.words
    times = np.array([(w.start + w.end) / 2 for w in words])
    values = sample(track, times)
    assert np.median(values[:, INDEX["mouthShrugLower"]]) > 0.2
    assert np.median(values[:, INDEX["mouthFrownLeft"]]) > 0.4


def beat_poses(backend, emotion, script=LINE, seeds=range(4)):
    """The head pose (headYaw, headPitch) of every beat over several seeds."""
    rows = []
    for seed in seeds:
        track = perform(backend, emotion, script=script, seed=seed)
        rows += [[k.pose["headYaw"], k.pose["headPitch"]] for k in track.keyframes
                 if k.label in ("apex", "emphasis", "question", "shift")]
    return np.array(rows)


def test_grief_keeps_the_sad_brows_oblique_under_the_pain_it_blends(backend):
    """'grief' is sadness with some pain, whose brows lower: summed, browDown reached 0.5 under a
    0.7 inner lift, which renders as flat brows on the real heads. In a blend the lowerer stays a
    quarter of the lift wherever the inner brows lead without the outer ones."""
    for emotion in ("grief", "sad", "heartbroken", "rejected", "tearful"):
        faces = beat_faces(backend, emotion)
        inner, lowered = faces[:, INDEX["browInnerUp"]], faces[:, INDEX["browDownLeft"]]
        assert (lowered <= 0.4 * inner).all(), (emotion, inner, lowered)
    # Fear lifts the outer brows too and keeps its lowered, straight brow.
    fear = beat_faces(backend, "terrified")
    assert fear[:, INDEX["browDownLeft"]].min() >= 0.3


def test_a_sad_stress_or_question_lifts_the_inner_brows_only(backend):
    """A brow flash lifts the outer brows too, which flattens the sad oblique brow: a sad face
    stresses a word or asks with its inner brows."""
    for script in ("Why did you leave me?", "I waited for you all night!"):
        faces = beat_faces(backend, "sad", script=script)
        assert faces[:, INDEX["browOuterUpLeft"]].max() <= 0.05, script
        assert faces[:, INDEX["browInnerUp"]].max() >= 0.85, script


def test_sadness_bows_the_head_and_disgust_turns_away_and_pulls_back(backend):
    sad = beat_poses(backend, "sad")
    assert (sad[:, 1] <= -0.1).all(), sad
    disgust = beat_poses(backend, "disgusted")
    assert (np.abs(disgust[:, 0]) >= 0.1).all() and (disgust[:, 1] >= 0.04).all(), disgust
    # Away means either side, chosen by the seed.
    assert (disgust[:, 0] > 0).any() and (disgust[:, 0] < 0).any()


def test_sad_and_disgusted_mouths_speak_small(backend):
    """Sadness speaks with a small mouth: its jaw opens clearly less than the same line said
    without an emotion (0.59 of it; 0.66 before stop 18). Disgust speaks through its raised
    upper lip with little jaw (0.73; 0.9 before: a wide jaw under the raised lip was a snarl)."""
    plain = peak(speech_samples(perform(backend)), "jawOpen")
    sad, disgusted = (peak(speech_samples(perform(backend, e)), "jawOpen") for e in ("sad", "disgusted"))
    assert sad < 0.62 * plain, (sad, plain)
    assert disgusted < 0.8 * plain, (disgusted, plain)


def test_sad_blinks_are_slower(backend):
    """A sad blink closes and opens more slowly than a neutral one (same line, same seed)."""
    def blink_length(track):
        keys = track.layers["blinks"].channels["eyeBlinkLeft"]
        closed = [i for i, (_, value) in enumerate(keys) if value == 1.0]
        return np.median([keys[i + 1][0] - keys[i - 1][0] for i in closed if 0 < i < len(keys) - 1])

    long_line = " ".join([LINE] * 3)
    sad, plain = perform(backend, "sad", script=long_line), perform(backend, script=long_line)
    assert blink_length(sad) > 1.3 * blink_length(plain), (blink_length(sad), blink_length(plain))


def test_fearful_whisper_is_not_a_scream(backend):
    values = speech_samples(perform(backend, "fearful whisper"))
    assert peak(values, "jawOpen") < 0.3
    assert peak(values, "mouthStretchLeft") > 0.2  # fear stretches the lips


def test_the_mood_does_not_hang_the_mouth_open_over_words(backend):
    """A gasp of surprise holds the jaw open; while speaking only about a third remains."""
    track = perform(backend, "astonished")
    expression_jaw = max(k.weights["jawOpen"] for k in track.keyframes if k.label not in ("onset", "release"))
    assert expression_jaw > 0.2
    words = backend.plan(GenerateRequest(script=LINE, emotion="astonished").validated()).timing.words
    times = np.array([w.start + 0.01 for w in words])
    values = sample(track, times)
    # Word onsets are the least open moments of speech: there the expression's share shows.
    assert np.median(values[:, INDEX["jawOpen"]]) < 0.6 * expression_jaw + 0.12


def test_delivery_set_orders_whisper_plain_shout_for_every_line(backend):
    """The delivery evaluation set (written by another hand): every line whispered opens and
    moves the lips less than plain, and shouted more."""
    from model_runtime.evaluation import run_delivery

    results = run_delivery(backend)
    assert results["summary"]["lines"] >= 12
    assert [r["script"] for r in results["lines"] if not r["ordered"]] == []
