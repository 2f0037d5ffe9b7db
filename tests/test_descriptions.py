"""Descriptions an artist would type (issue 10 part 4, issue 12 item 15): verbs and idioms,
negation scope, eyes vs head, and the fallback by meaning for clauses the grammar does not
parse, through the built-in solver (description -> ARKit weights and pose)."""

import numpy as np
import pytest

from model_runtime.backends import get_backend
from model_runtime.backends.builtin import fallback
from model_runtime.backends.builtin.parse import DescriptionParser


@pytest.fixture(scope="module")
def backend():
    return get_backend("builtin", paraphrases=False)


def solve(backend, text):
    return backend.solve([text], 0, "", "")


# (description, shapes clearly on, shapes that must stay off): written for this test, not taken
# from the evaluation sets.
VERBS_AND_IDIOMS = [
    ("His eyes fly open.", ["eyeWideLeft", "eyeWideRight"], ["eyeBlinkLeft"]),
    ("Her eyes snap open.", ["eyeWideLeft"], ["eyeSquintLeft"]),
    ("He screws his eyes shut.", ["eyeBlinkLeft", "eyeSquintLeft"], ["eyeWideLeft"]),
    ("Her face crumples.", ["browDownLeft", "mouthFrownLeft"], ["mouthSmileLeft"]),
    ("He is chewing his lower lip.", ["mouthRollLower"], ["jawOpen"]),
    ("She bites her lip.", ["mouthRollLower"], ["jawOpen"]),
    ("She sucks in her lips.", ["mouthRollLower", "mouthRollUpper"], ["jawOpen"]),
    ("She purses her lips in disapproval.", ["mouthPucker"], ["mouthSmileLeft"]),
    ("His upper lip curls.", ["mouthUpperUpLeft"], ["mouthSmileLeft"]),
    ("His nostrils flare.", ["noseSneerLeft", "noseSneerRight"], []),
    ("He grinds his teeth.", ["mouthPressLeft"], ["jawOpen"]),
    ("He puffs his cheeks out.", ["cheekPuff"], []),
    ("He rolls his eyes at the suggestion.", ["eyeLookUpLeft", "eyeLookUpRight"], ["eyeLookDownLeft"]),
    ("Her mouth forms a small o.", ["mouthFunnel", "jawOpen"], ["mouthSmileLeft"]),
    ("A crooked smile on the right.", ["mouthSmileRight"], ["mouthSmileLeft"]),
]


@pytest.mark.parametrize("text, present, absent", VERBS_AND_IDIOMS)
def test_verbs_and_idioms(backend, text, present, absent):
    solved = solve(backend, text)
    assert [n for n in present if solved.weights[n] <= 0.1] == []
    assert [n for n in absent if solved.weights[n] >= 0.05] == []
    assert not any("nothing in the description was understood" in note for note in solved.notes)


@pytest.mark.parametrize("text", ["He glances to the left.", "Her eyes dart right.", "She peeks up at him.",
                                  "He looks down at his hands without lowering his head.",
                                  "She peeks over at the door, keeping her head still."])
def test_glances_move_the_eyes_not_the_head(backend, text):
    solved = solve(backend, text)
    eyes = max(abs(solved.pose[n]) for n in ("leftEyeYaw", "leftEyePitch"))
    assert eyes > 0.05 or "door" in text
    assert max(abs(solved.pose[n]) for n in ("headYaw", "headPitch", "headRoll")) < 1e-6


def test_a_head_held_still_stays_still_whatever_else_the_text_says(backend):
    for text in ("She turns her head to the left, keeping her head still.",
                 "Keeping his head still, he nods.",
                 "He nods without moving his head."):
        assert max(abs(v) for k, v in solve(backend, text).pose.items() if k.startswith("head")) < 1e-6, text
    assert solve(backend, "She turns her head to the left.").pose["headYaw"] != 0


@pytest.mark.parametrize("text, off", [
    ("He answers without smiling.", ["mouthSmileLeft", "mouthSmileRight"]),
    ("She no longer smiles; her brows pull down.", ["mouthSmileLeft"]),
    ("Her smile fades.", ["mouthSmileLeft", "mouthSmileRight"]),
    ("He is not frowning, not smiling.", ["mouthSmileLeft", "mouthFrownLeft", "browDownLeft"]),
])
def test_negation_scope(backend, text, off):
    solved = solve(backend, text)
    assert [n for n in off if solved.weights[n] >= 0.05] == []


def test_without_reaches_only_its_own_clause(backend):
    solved = solve(backend, "She smiles without showing her teeth.")
    assert solved.weights["mouthSmileLeft"] > 0.2


def test_hardly_is_a_trace_not_a_full_action(backend):
    hardly, plain = solve(backend, "He hardly opens his mouth."), solve(backend, "He opens his mouth.")
    assert 0 < hardly.weights["jawOpen"] < 0.4 * plain.weights["jawOpen"]


def test_unparsed_clause_is_guessed_from_the_bank_with_a_note(backend):
    solved = solve(backend, "His face lights up, the brows lift.")
    assert solved.weights["mouthSmileLeft"] > 0.2 and solved.weights["cheekSquintLeft"] > 0.1
    assert any("read 'his face lights up' as 'her face lights up'" in note for note in solved.notes)


def test_a_clause_near_nothing_is_named_as_left_out(backend):
    solved = solve(backend, "The brows lift. The weather is lovely in Brighton.")
    assert solved.weights["browInnerUp"] > 0.2
    assert any("left out" in note and "brighton" in note for note in solved.notes)


def test_negated_clauses_are_never_guessed_into_their_opposite():
    result = DescriptionParser().parse("Her face does not light up.")
    assert result.guessed == []


def test_every_bank_phrase_reads_back_in_the_grammar():
    parser = DescriptionParser()
    for phrase, description in fallback.PHRASES.items():
        result = parser.parse(description, guess=False)
        assert result.understood and not result.ignored_clauses, (phrase, result.ignored_clauses)


def test_similarity_is_pluggable_and_a_failing_encoder_degrades_to_words():
    calls = []

    def encoder(texts):
        calls.append(list(texts))
        # A toy encoder: "beaming" is nearest to the face lighting up (compared without who
        # acts: "her face lights up" is encoded as "face lights up").
        vectors = np.zeros((len(texts), 2), dtype=np.float32)
        for i, text in enumerate(texts):
            vectors[i] = (1.0, 0.0) if text in ("face lights up", "is beaming with joy") else (0.0, 1.0)
        return vectors

    try:
        fallback.use_encoder(encoder)
        guess = fallback.nearest("she is beaming with joy")
        assert guess.phrase == "her face lights up" and guess.by == "encoder"
        # The bank (every wording of every phrase) is embedded once, then only the clause.
        assert len(calls[0]) == len(fallback.WORDINGS) > len(fallback.PHRASES)
        assert calls[1:] == [["is beaming with joy"]]

        def broken(texts):
            raise RuntimeError("no model here")

        fallback.use_encoder(broken)
        result = DescriptionParser().parse("His face lights up.")
        assert result.guessed and result.guessed[0].by == "words"
    finally:
        fallback.use_encoder(fallback.DEFAULT)


def test_a_description_the_grammar_reads_never_asks_the_encoder():
    calls = []

    def counting(texts):
        calls.append(list(texts))
        return np.ones((len(texts), 2), dtype=np.float32) / np.sqrt(2)

    try:
        fallback.use_encoder(counting)
        parser = DescriptionParser()
        # Read by the grammar (an idiom with leftover words is matched by its words only).
        for text in ("The brows pull down and together, the eyes narrow.", "Tears well up in her eyes.",
                     "She glances to the left, keeping her head still."):
            assert not parser.parse(text).empty
        assert calls == []
        # A clause the grammar cannot read is what the encoder is for.
        parser.parse("Her brows pull down, she weighs the offer.")
        assert calls and calls[-1] == ["weighs offer"]  # compared without who acts
    finally:
        fallback.use_encoder(fallback.DEFAULT)


@pytest.mark.skipif(not fallback._shipped_available(), reason="the sentence encoder's weights are not extracted (run ./kff)")
def test_the_shipped_encoder_guesses_what_word_overlap_cannot(backend):
    fallback.use_encoder(fallback.DEFAULT)
    # No content word shared with any bank phrase: only meaning links it to being lost in thought.
    clause = "absorbed in thought"
    assert fallback.nearest(clause, by_meaning=False) is None
    guess = fallback.nearest(clause)
    assert guess is not None and guess.by == "encoder" and guess.phrase in ("lost in thought", "deep in concentration")
    result = DescriptionParser().parse("Absorbed in thought.")
    assert [g.phrase for g in result.guessed] == [guess.phrase]
    assert any("by meaning" in note for note in result.notes())
    # The backend's paraphrases=False (words only) leaves it out.
    words_only = DescriptionParser().parse("Absorbed in thought.", by_meaning=False)
    assert words_only.guessed == [] and words_only.empty


# Written for this test (not from the evaluation sets): how artists phrase things the grammar
# learnt this stop.
ARTIST_PHRASES = [
    # A summing-up clause keeps the detail another clause gives ("worried" lifts the inner brows
    # but does not undo the pinch).
    ("Her brows knit hard, anxious.", ["browDownLeft", "browInnerUp"], ["browOuterUpLeft", "browOuterUpRight"]),
    ("A grin tugs at the left corner of her mouth.", ["mouthSmileLeft"], ["mouthSmileRight"]),
    ("His forehead wrinkles.", ["browInnerUp", "browOuterUpLeft"], ["browDownLeft"]),
    ("He clenches his teeth.", ["mouthPressLeft", "mouthStretchLeft"], ["jawOpen"]),
    ("He stops grinning and purses his lips.", ["mouthPucker"], ["mouthSmileLeft", "mouthSmileRight"]),
    ("The grin slips and the corners of her mouth droop.", ["mouthFrownLeft"], ["mouthSmileLeft"]),
    ("Her tongue pokes between her teeth.", ["tongueOut"], []),
    ("Brows high, mouth hanging open.", ["browInnerUp", "jawOpen"], ["browDownLeft"]),
    ("She looks irate.", ["browDownLeft"], ["mouthSmileLeft"]),
    ("A deep crease forms between his brows, a v.", ["browDownLeft"], ["browOuterUpLeft"]),
    ("Eyes shut, face relaxed.", ["eyeBlinkLeft", "eyeBlinkRight"], ["browDownLeft"]),
    ("Her brows bunch together in fear.", ["browDownLeft", "browInnerUp"], []),
    ("He sneers, the lip lifting on the right.", ["mouthUpperUpRight", "noseSneerRight"], ["noseSneerLeft"]),
    ("She tilts her chin up and glances down at him.", ["eyeLookDownLeft"], ["eyeLookUpLeft"]),
    # A feeling denied takes nothing away from what another clause describes.
    ("She scowls, though not really angry.", ["browDownLeft"], ["mouthSmileLeft"]),
    ("A half smile, r side only.", ["mouthSmileRight"], ["mouthSmileLeft"]),
    # An emotion adverb colours the action, never against it: a sad smile stays a smile.
    ("She smiles sadly.", ["mouthSmileLeft", "browInnerUp"], ["mouthFrownLeft"]),
    # Both eyes turn in: neither looks out.
    ("He goes cross-eyed.", ["eyeLookInLeft", "eyeLookInRight"], ["eyeLookOutLeft", "eyeLookOutRight"]),
    ("Her eyes turn in toward her nose.", ["eyeLookInLeft", "eyeLookInRight"], ["eyeLookOutLeft", "eyeLookOutRight"]),
    # A one-sided detail takes the summing-up expression's nose and lip to its side.
    ("His upper lip lifts on the right, a snarl.", ["mouthUpperUpRight", "noseSneerRight"], ["noseSneerLeft", "mouthUpperUpLeft"]),
    # "one corner", "an eyebrow": one of the pair, and the region word still counts.
    ("He smirks, one corner up.", ["mouthSmileLeft"], ["mouthSmileRight"]),
    ("One corner of her mouth turns up.", ["mouthSmileLeft"], ["mouthSmileRight"]),
    ("She raises an eyebrow.", ["browOuterUpLeft"], ["browOuterUpRight"]),
    # Other wordings of a bank phrase, matched by their words (no encoder).
    ("He chuckles.", ["mouthSmileLeft", "cheekSquintLeft"], ["mouthFrownLeft"]),
    ("She pecks his cheek.", ["mouthPucker"], ["tongueOut", "jawOpen"]),
    ("He retches.", ["noseSneerLeft", "mouthUpperUpLeft"], ["mouthSmileLeft"]),
    # Feeling words the emotion lexicon lacks, and their adverbs.
    ("He looks crestfallen.", ["mouthFrownLeft", "browInnerUp"], ["mouthSmileLeft"]),
    ("She answers glumly.", ["mouthFrownLeft"], ["mouthSmileLeft"]),
    # A hanging jaw drops (the encoder read "jaw hanging" as the jaw tightening).
    ("Jaw hanging, eyes wide.", ["jawOpen", "eyeWideLeft"], ["mouthPressLeft"]),
    ("Her lips part slightly.", ["jawOpen", "mouthLowerDownLeft"], ["mouthPressLeft"]),
    ("He throws his head back and roars with laughter.", ["mouthSmileLeft", "jawOpen"], ["mouthFrownLeft"]),
    # Two directions at once.
    ("She glances down and to the right.", ["eyeLookDownLeft", "eyeLookOutRight"], ["eyeLookUpLeft", "eyeLookOutLeft"]),
    # A side named on its own says where the clause before happens.
    ("A slow wink, left eye only.", ["eyeBlinkLeft"], ["eyeBlinkRight"]),
    ("He grimaces, right side of the face only.", ["mouthStretchRight"], ["mouthStretchLeft"]),
    # A smirk on a named side stands against the side a summing-up feeling would take.
    ("Disdain: a smirk on the right.", ["mouthSmileRight"], ["mouthSmileLeft"]),
    # "not quite" lessens, it does not deny.
    ("The corners sag, not quite a frown.", ["mouthFrownLeft"], ["mouthSmileLeft"]),
    ("Jaw to the right, lips together.", ["jawRight"], ["jawLeft"]),
    ("His eyes squeeze shut.", ["eyeBlinkLeft", "eyeSquintLeft"], ["eyeWideLeft"]),
    ("Brows slanted up, pleading.", ["browInnerUp"], ["browDownLeft", "browDownRight"]),
    ("She bites her tongue.", ["mouthPressLeft"], ["tongueOut", "jawOpen"]),
    ("Chin tucked, he looks up from under his brows.", ["eyeLookUpLeft"], ["eyeLookDownLeft"]),
    # A feeling reaches the whole face, not only the part the clause names.
    ("His nostrils flare in fury.", ["noseSneerLeft", "browDownLeft", "browDownRight"], ["mouthSmileLeft"]),
    # One side rests, the other keeps its action.
    ("Left brow pulled down hard, right one relaxed.", ["browDownLeft"], ["browDownRight"]),
    # A one-sided detail takes a summing-up feeling's one-sided mouth to its side.
    ("Mouth pulled over to the left, smug.", ["mouthLeft", "mouthSmileLeft"], ["mouthSmileRight", "mouthRight"]),
    # Camera left is the character's right.
    ("Eyes to camera left.", ["eyeLookOutRight"], ["eyeLookOutLeft"]),
    ("Eyes wide, staring dead ahead.", ["eyeWideLeft"], ["mouthFrownLeft", "eyeBlinkLeft"]),
    ("Brows rise and pinch together.", ["browInnerUp"], ["browDownLeft", "browDownRight"]),
    # A bare side after the jaw is where it goes; "to her right" is a direction, not a side.
    ("Jaw right, lips together.", ["jawRight"], ["jawLeft"]),
    ("Mouth pulled tight to his left.", ["mouthLeft"], ["mouthRight"]),
    # The eyes go where the clause points even when another part of it acts.
    ("Eyes to the left, jaw locked.", ["eyeLookOutLeft"], ["eyeLookOutRight"]),
    # A one-word wording never replaces what the grammar read beside it ("soft" is not
    # "she softens": the smile stays).
    ("Just a soft smile.", ["mouthSmileLeft"], []),
]


@pytest.mark.parametrize("text,present,absent", ARTIST_PHRASES)
def test_artist_phrasing(backend, text, present, absent):
    solved = solve(backend, text)
    assert all(solved.weights[n] > 0.1 for n in present), {n: solved.weights[n] for n in present}
    assert all(solved.weights[n] < 0.05 for n in absent), {n: solved.weights[n] for n in absent}


@pytest.mark.skipif(not fallback._shipped_available(), reason="the sentence encoder's weights are not extracted (run ./kff)")
@pytest.mark.parametrize("clause, wrong", [
    # Who acts and whose face weighed as much as the verb: these read as licking the lips and
    # as the emotion word "cross".
    ("she plants a kiss on his forehead", {"she licks her lips"}),
    ("she crosses her arms", {"cross"}),
])
def test_the_encoder_compares_what_is_done_not_who_does_it(clause, wrong):
    fallback.use_encoder(fallback.DEFAULT)
    result = DescriptionParser().parse(clause)
    assert not {g.phrase for g in result.guessed} & wrong, result.notes()


@pytest.mark.parametrize("text,where", [
    ("He looks grim.", None),  # how he appears: the eyes stay
    ("Her eyes stay on the floor.", "down"),
    ("He checks the clock above the door.", "up"),
    ("She looks at the ceiling.", "up"),
    ("He keeps his eyes fixed on the ground.", "down"),  # the place, not "fixed" (straight ahead)
])
def test_looking_moves_the_eyes_only_where_the_clause_points(backend, text, where):
    pose = solve(backend, text).pose
    if where is None:
        assert abs(pose["leftEyeYaw"]) < 0.02  # not sideways ("looks" alone was a glance aside)
    else:
        assert (pose["leftEyePitch"] < -0.05) if where == "down" else (pose["leftEyePitch"] > 0.05)


def test_eval_reports_the_fresh_test_set_when_present_and_says_when_not(backend, tmp_path):
    import json

    from model_runtime.evaluation import format_acting, run_paraphrased_descriptions

    fresh = tmp_path / "descriptions_test.json"
    fresh.write_text(json.dumps({"descriptions": [
        {"text": "Her brows shoot up.", "present": ["browInnerUp"], "absent": ["browDownLeft"], "split": "test"},
        {"text": "He keeps his head still and smiles.", "present": ["mouthSmileLeft"], "absent": [], "still": ["headYaw"], "split": "test"},
        # Bound to fail: a smile does not close the eyes.
        {"text": "A broad smile.", "present": ["eyeBlinkLeft"], "absent": [], "split": "test"},
    ]}))
    results = run_paraphrased_descriptions(backend, fresh)
    assert results["summary"]["test"] == {"total": 3, "agree": 2}
    assert results["summary"]["dev"]["total"] >= 150
    report = format_acting({"paraphrased_descriptions": results})
    assert "test (data/eval/descriptions_test.json, never seen): 2/3 = 67%" in report
    assert "dev (independent, used for tuning since stop 16)" in report
    assert results["summary"]["dev2"]["total"] == 200 and "dev2 (a second hand, stop 17" in report
    assert results["summary"]["dev3"]["total"] == 200 and "dev3 (a third hand, stop 18; first measured untouched: 83%" in report
    assert "A broad smile" not in report  # the test set's misses stay unseen

    missing = run_paraphrased_descriptions(backend, tmp_path / "absent.json")
    assert "test" not in missing["summary"]
    assert "never seen): not present" in format_acting({"paraphrased_descriptions": missing})


def test_python_m_model_runtime_eval_reports_the_fresh_set_and_names_a_malformed_one(tmp_path, monkeypatch, capsys):
    import json

    from model_runtime import cli, evaluation

    fresh = tmp_path / "descriptions_test.json"
    fresh.write_text(json.dumps({"descriptions": [
        {"text": "His eyes narrow.", "present": ["eyeSquintLeft"], "absent": ["eyeWideLeft"], "split": "test"}]}))
    monkeypatch.setattr(evaluation, "DESCRIPTIONS_TEST", fresh)
    assert cli.main(["eval", "--only", "descriptions"]) == 0
    assert "never seen): 1/1 = 100% solved to the shapes they name" in capsys.readouterr().out

    fresh.write_text(json.dumps({"descriptions": [{"text": "His eyes narrow.", "present": ["eyeSquintLeftt"], "absent": []}]}))
    assert cli.main(["eval", "--only", "descriptions"]) == 0
    out = capsys.readouterr().out
    assert "never seen): not measured: descriptions_test.json: description 1 needs 'present' as a list of ARKit shapes" in out


# Stop 18: failure classes of the dev sets, in words written for these tests.
WARMTH_AND_EXPRESSION_SCOPE = [
    # Feelings that deny warmth bring no smile; a smile the text names stays.
    ("She regards him coldly, contemptuous.", ["browDownLeft"], ["mouthSmileLeft", "mouthSmileRight"]),
    ("Unimpressed, lips pressed flat.", ["mouthPressLeft"], ["mouthSmileLeft", "mouthSmileRight"]),
    ("A cold smile.", ["mouthSmileLeft", "mouthSmileRight"], []),
    # An angry feeling's contempt is no smirk.
    ("He stares her down, hostile and indignant.", ["browDownLeft"], ["mouthSmileLeft", "mouthSmileRight"]),
    ("A bitter smile.", ["mouthSmileLeft"], []),
    # An expression that names a part of the face describes it in detail: a scream's narrowed
    # eyes do not win over "eyes wide".
    ("Her mouth opens in a scream, eyes wide.", ["eyeWideLeft", "jawOpen"], []),
    # An expression placed on a part happens there only, at the clause's degree.
    ("A faint frown at the corners of her mouth.", ["mouthFrownLeft", "mouthFrownRight"], ["browDownLeft", "browDownRight"]),
    ("She smiles with the mouth only, eyes cold.", ["mouthSmileLeft"], ["cheekSquintLeft", "cheekSquintRight"]),
    # The whole face sums up: a detailed clause wins over it.
    ("He puts on a brave face, brows lifted in worry.", ["browInnerUp"], ["browDownLeft", "browDownRight"]),
    # Quotation marks and unknown compounds.
    ('Her mouth makes a little "o".', ["mouthFunnel"], ["mouthSmileLeft"]),
    ("A half-grimace on the right.", ["mouthStretchRight"], ["mouthStretchLeft"]),
    # Held back, it still shows.
    ("He is trying hard not to laugh.", ["mouthSmileLeft"], []),
    # Dashes break clauses; camera left is the character's right.
    ("Eyes to camera left - head locked.", ["eyeLookOutRight", "eyeLookInLeft"], []),
    ("Brows up - eyes to screen right.", ["browInnerUp", "eyeLookOutLeft"], ["eyeLookUpLeft"]),
]


SIDES_STATES_AND_DIRECTIONS = [
    # The other side: "the right one", "the left stays ...", "with the right".
    ("His left brow drops and the right one shoots up.", ["browDownLeft", "browOuterUpRight"], ["browOuterUpLeft", "browDownRight"]),
    ("Left eye narrowed, the right one huge.", ["eyeSquintLeft", "eyeWideRight"], ["eyeWideLeft"]),
    ("She shuts her right eye and squints through the keyhole with the left.", ["eyeBlinkRight", "eyeSquintLeft"], ["eyeBlinkLeft"]),
    # What a part is like: "lips thin", "eyes huge".
    ("Her lips go thin.", ["mouthPressLeft", "mouthPressRight"], ["mouthRollLower"]),
    # A bitten lip closes the mouth that a feeling would open.
    ("Lip bitten, excited.", ["mouthRollLower"], ["jawOpen"]),
    # A side before a part names the side; "to her left" is where the eyes go, even with "only".
    ("A frown tugs at the left corner of his mouth.", ["mouthFrownLeft"], ["mouthLeft", "mouthRight"]),
    ("Eyes to his right only, head still.", ["eyeLookOutRight", "eyeLookInLeft"], []),
    ("Eyes up to the bottom left corner of the screen.", ["eyeLookDownLeft", "eyeLookOutLeft"], ["eyeLookUpLeft"]),
    # A participle goes on with the side of the clause before, in its half of the face only.
    ("Upper lip hitched on the right, showing a fang.", ["mouthUpperUpRight"], ["mouthUpperUpLeft", "mouthPucker"]),
    ("Winks with his left eye, grinning.", ["eyeBlinkLeft", "mouthSmileLeft", "mouthSmileRight"], ["eyeBlinkRight"]),
    # Manner words do not hide an idiom from the bank ("a quick lick of the lips").
    ("A quick, nervous lick of the lips.", ["tongueOut"], []),
]


GAZE_HOLDS_ONLY_AND_PURPOSES = [
    # Where the eyes go: objects looked at, looking expressions, someone else's look.
    ('She frowns at the floor.', ['eyeLookDownLeft', 'browDownLeft'], ['eyeLookUpLeft']),
    ('He glowers out from beneath his lashes.', ['eyeLookUpLeft', 'browDownLeft'], ['eyeLookDownLeft']),
    ('She rolls her eyes up and to the right.', ['eyeLookUpLeft', 'eyeLookOutRight'], ['eyeLookDownLeft']),
    ('Eyes down, he catches her watching.', ['eyeLookDownLeft'], []),
    # Eyes held on a target while the head turns turn back by as much.
    ('Head turned to the left, eyes locked on the camera.', ['eyeLookOutRight', 'eyeLookInLeft'], ['eyeLookOutLeft']),
    # What a part is like wins over another part's action; corners are finer than lips; purposes are left out.
    ('She smiles, the eyes flat and cold.', ['mouthSmileLeft'], ['eyeSquintLeft', 'cheekSquintLeft']),
    ('Lips curl up at the corners.', ['mouthSmileLeft', 'mouthSmileRight'], ['mouthUpperUpLeft']),
    ('He puffs out his cheeks to make the kids laugh.', ['cheekPuff'], ['mouthSmileLeft', 'jawOpen']),
    # 'Only' keeps the other part of the brows still; 'one side' is the side said nearby; a side before a part ends a clause.
    ('The brows lift at the outer ends only, a knowing look.', ['browOuterUpLeft', 'browOuterUpRight'], ['browInnerUp']),
    ('A dimple on the right, a lopsided smile.', ['mouthSmileRight', 'mouthDimpleRight'], ['mouthSmileLeft']),
    ('Squint, right eye.', ['eyeSquintRight'], ['eyeSquintLeft']),
    # 'And' another part that acts; an aside look keeps its side.
    ('Jaw shifted left and lips sealed.', ['jawLeft', 'mouthPressLeft'], ['jawRight']),
    ('She glances left, avoiding his eyes.', ['eyeLookOutLeft', 'eyeLookInRight'], ['eyeLookOutRight']),
    # Vocabulary: a look askance, beetling brows, slack-jawed, eyes on someone's lips.
    ('She looks askance at him.', ['eyeLookInLeft'], []),
    ('His brows beetle.', ['browDownLeft', 'browDownRight'], ['browInnerUp']),
    ('She goes slack-jawed.', ['jawOpen'], ['mouthPressLeft']),
    ('Her eyes go to his lips.', ['eyeLookDownLeft', 'eyeLookDownRight'], ['mouthSmileLeft']),
    # A part named in where the eyes go does not move.
    ('He glances up at her through his lashes.', ['eyeLookUpLeft'], ['eyeWideLeft']),
    # A denial takes away what no other clause describes; "her eyes don't" denies the eyes.
    ("She's not crying, but her chin trembles.", ['mouthShrugLower'], ['browInnerUp']),
    ('Eyes closed, no squeeze.', ['eyeBlinkLeft', 'eyeBlinkRight'], ['cheekSquintLeft']),
    ("His mouth smiles but his eyes don't.", ['mouthSmileLeft'], ['cheekSquintLeft', 'eyeSquintLeft']),
    # The viewer's side is the other side of the face.
    ('Screen-left brow up.', ['browOuterUpRight'], ['browOuterUpLeft']),
    ('A smile on the camera-right side of his face.', ['mouthSmileLeft'], ['mouthSmileRight']),
    # Mouth vocabulary; a disgusted feeling's contempt is no smirk either.
    ('The corners of her mouth curl down.', ['mouthFrownLeft', 'mouthFrownRight'], ['mouthSmileLeft']),
    ('Lips pressed into a line, corners tucked in.', ['mouthDimpleLeft', 'mouthPressLeft'], ['mouthRollLower']),
    ('Corners of the mouth pinned back.', ['mouthStretchLeft', 'mouthStretchRight'], []),
    ('Her lip curls in distaste.', ['mouthUpperUpLeft'], ['mouthSmileLeft', 'mouthSmileRight']),
]


@pytest.mark.parametrize("text, present, absent", WARMTH_AND_EXPRESSION_SCOPE + SIDES_STATES_AND_DIRECTIONS + GAZE_HOLDS_ONLY_AND_PURPOSES)
def test_failure_classes_of_the_dev_sets(backend, text, present, absent):
    solved = solve(backend, text)
    assert [n for n in present if solved.weights[n] <= 0.1] == [], solved.weights
    assert [n for n in absent if solved.weights[n] >= 0.05] == [], solved.weights


def test_the_fallback_passes_over_opposites_and_other_parts_of_the_face(backend):
    # A wording that says the opposite is no stand-in, however near by meaning.
    assert fallback.opposed("his expression hardens", "her expression softens")
    assert fallback.opposed("her eyes narrow to slits", "eyes widen in recognition")
    assert not fallback.opposed("her face lights up", "his face lights up")
    # Nor is one about another part of the face: the clause is left out, and the notes say so.
    solved = solve(backend, "She smacks her forehead.")
    assert solved.weights["mouthPressLeft"] < 0.05
    assert any("nothing in the description was understood" in note for note in solved.notes), solved.notes
    solved = solve(backend, "Brows up, she smacks her forehead.")
    assert solved.weights["mouthPressLeft"] < 0.05 and solved.weights["browInnerUp"] > 0.1
    assert any("'she smacks her forehead'" in note for note in solved.notes), solved.notes
    # A bank idiom on the same part is still found by its words.
    assert solve(backend, "He smacks his lips.").weights["mouthPressLeft"] > 0.1


@pytest.mark.skipif(not fallback._shipped_available(), reason="the sentence encoder's weights are not extracted (run ./kff)")
def test_a_feeling_framed_as_a_look_is_read_by_meaning():
    fallback.use_encoder(fallback.DEFAULT)
    result = DescriptionParser().parse("A pleading look.")
    assert [g.by for g in result.guessed] == ["emotion"] and result.state.get("AU1") > 0.3


@pytest.mark.parametrize("text, stronger, weaker, absent", [
    # Intensity on one side: the clause before again on the other side, or both sides with
    # one more.
    ("A big smile on the left, a faint one on the right.", "mouthSmileLeft", "mouthSmileRight", []),
    ("Left eye shut tight, the right only slightly.", "eyeBlinkLeft", "eyeBlinkRight", []),
    ("Slight frown, stronger on the right.", "browDownRight", "browDownLeft", ["eyeLookOutRight", "eyeLookInLeft"]),
    ("The smile is wider on her left side.", "mouthSmileLeft", "mouthSmileRight", []),
])
def test_sides_to_different_degrees(backend, text, stronger, weaker, absent):
    solved = solve(backend, text)
    assert solved.weights[stronger] > solved.weights[weaker] > 0.1, solved.weights
    assert [n for n in absent if solved.weights[n] >= 0.05] == [], solved.weights


@pytest.mark.parametrize("text", ["He starts to smile but stops himself.", "A ghost of a grin, gone again."])
def test_a_clause_can_take_back_the_one_before(backend, text):
    solved = solve(backend, text)
    assert solved.weights["mouthSmileLeft"] < 0.05 and solved.weights["mouthSmileRight"] < 0.05, solved.weights


def test_a_clause_that_only_says_when_is_no_clause_left_out(backend):
    solved = solve(backend, "Slowly, her mouth falls open, and for a beat nothing else.")
    assert solved.weights["jawOpen"] > 0.1
    assert not any("'slowly'" in note for note in solved.notes), solved.notes
    # What the parser does not know is still named.
    assert any("left out" in note for note in solve(backend, "Slowly, her mouth falls open, flibbertigibbet.").notes)


@pytest.mark.parametrize("text, pitch", [("She tilts her head back, eyes closed.", 1), ("He ducks his head.", -1)])
def test_a_head_tilted_back_looks_up_and_a_ducked_one_down(backend, text, pitch):
    assert solve(backend, text).pose["headPitch"] * pitch > 0.05
