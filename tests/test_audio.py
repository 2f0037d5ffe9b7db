"""The recording as the clock: reading audio, aligning the script to it, the performance
timed by it, and the scratch voice. Speech is real (the Piper voice, made once per session)."""

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from devtools.lip_measures import CLOSED, aperture_at, closure_around
from model_runtime.audio.recording import AudioError, read_recording, write_wav
from model_runtime.audio.sync import with_alignment, with_recording
from model_runtime.backends import GenerateRequest, get_backend
from model_runtime.errors import InputError
from model_runtime.track import Track
from tests.conftest import COMPRESSED_FORMATS, spoken_line_as

ROOT = Path(__file__).resolve().parent.parent


def run(*args):
    return subprocess.run([sys.executable, "-m", "model_runtime", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def generate(script, path, **fields):
    request = with_recording(GenerateRequest(script=script, **fields).validated(), path)
    return get_backend("builtin").generate(request)


def test_cli_generate_with_audio_records_the_alignment_and_closes_the_lips_on_time(spoken_line, tmp_path):
    out = tmp_path / "line.json"
    result = run("generate", "--script", spoken_line.script, "--emotion", "calm", "--audio", str(spoken_line.path),
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "Timed by the recording line.wav" in result.stderr
    document = json.loads(out.read_text())
    assert document["version"] == 2
    audio = document["audio"]
    assert audio["file"] == str(spoken_line.path) and len(audio["sha256"]) == 64
    assert audio["duration"] == pytest.approx(spoken_line.speech.duration, abs=0.01)
    words = audio["alignment"]["words"]
    assert [w["text"] for w in words] == ["Maybe", "Bob", "will", "pay", "me", "back"]
    assert [p[0] for p in words[1]["phones"]] == ["B", "AA", "B"]

    track = Track.load(out)
    times, aperture = aperture_at(track)
    for truth in spoken_line.bilabials:
        near = np.abs(times - truth) <= 0.035
        assert aperture[near].min() < CLOSED, f"lips not closed within 35 ms of the bilabial at {truth:.3f} s"


@pytest.mark.parametrize("extension", sorted(COMPRESSED_FORMATS))
def test_cli_generate_from_a_real_compressed_file_closes_the_lips_on_time(spoken_line, tmp_path, extension):
    path = spoken_line_as(spoken_line, tmp_path, extension)
    out = tmp_path / "line.json"
    result = run("generate", "--script", spoken_line.script, "--audio", str(path), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert f"Timed by the recording line.{extension}" in result.stderr
    track = Track.load(out)
    assert [w["text"] for w in track.audio["alignment"]["words"]][:2] == ["Maybe", "Bob"]
    times, aperture = aperture_at(track)
    for truth in spoken_line.bilabials:
        near = np.abs(times - truth) <= 0.035
        assert aperture[near].min() < CLOSED, f"lips not closed within 35 ms of the bilabial at {truth:.3f} s"


def test_leading_silence_and_noise_move_the_words(spoken_line, tmp_path):
    speech = spoken_line.speech
    lead = np.zeros(speech.rate)  # one second before the actor speaks
    noise = np.random.default_rng(1).normal(0, 0.003, len(speech.samples) + len(lead))
    path = tmp_path / "late.wav"
    write_wav(path, np.concatenate([lead, speech.samples]) + noise, speech.rate)
    track = generate(spoken_line.script, path)
    first_phone = track.audio["alignment"]["words"][0]["phones"][0]
    truth = next(start for phone, start, _ in speech.phones if phone == "m")
    assert first_phone[0] == "M" and first_phone[1] == pytest.approx(1.0 + truth, abs=0.07)
    times, aperture = aperture_at(track)
    assert aperture[(times > 0.1) & (times < 0.8)].max() < CLOSED, "the mouth moved before the actor spoke"


def test_wrong_take_falls_back_to_text_timing_with_a_note(spoken_line):
    script = "The weather today is sunny with a chance of rain later."
    track = generate(script, spoken_line.path)
    assert "alignment" not in track.audio
    assert any("does not" in note and "timed from its text" in note for note in track.notes), track.notes
    text_only = get_backend("builtin").generate(GenerateRequest(script=script))
    assert track.duration == pytest.approx(text_only.duration)


def test_a_louder_take_opens_the_mouth_wider(spoken_line, tmp_path):
    speech = spoken_line.speech
    quiet, loud = tmp_path / "quiet.wav", tmp_path / "loud.wav"
    write_wav(quiet, speech.samples * 0.05, speech.rate)
    write_wav(loud, speech.samples * 0.9, speech.rate)
    jaws = [max(v for _, v in generate(spoken_line.script, p).layers["lipsync"].channels["jawOpen"]) for p in (quiet, loud)]
    assert jaws[1] > jaws[0] * 1.3


def test_a_resolve_from_the_track_keeps_the_sync(spoken_line):
    track = generate(spoken_line.script, spoken_line.path, emotion="tender")
    again = get_backend("builtin").generate(with_alignment(
        GenerateRequest(script=track.script, emotion=track.emotion).validated(), track.audio))
    assert again.layers["lipsync"].channels == track.layers["lipsync"].channels
    assert [k.time for k in again.keyframes] == [k.time for k in track.keyframes]


def test_a_lead_puts_the_mouth_ahead_of_the_sound(spoken_line):
    request = GenerateRequest(script=spoken_line.script, fps=30).validated()
    plain = with_recording(request, spoken_line.path)
    ahead = with_recording(request, spoken_line.path, lead_frames=2)
    assert ahead.alignment.words[1].start == pytest.approx(plain.alignment.words[1].start - 2 / 30, abs=1e-6)


@pytest.mark.parametrize("lead, message", [("11", "lead = 11 frames is outside the limits 0 to 10 frames"),
                                           ("-1", "lead = -1 frames is outside the limits 0 to 10 frames"),
                                           ("nan", "lead is nan; it must be a finite number"),
                                           ("two", "lead must be a number, not 'two'")])
def test_cli_lead_outside_its_limit_is_refused_before_anything_is_read(tmp_path, lead, message):
    out = tmp_path / "line.json"
    result = run("generate", "--script", "Hi there.", "--audio", str(tmp_path / "missing.wav"), "--lead", lead,
                 "--out", str(out))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_lead_limit_holds_for_the_core_and_a_track_s_alignment(spoken_line):
    request = GenerateRequest(script=spoken_line.script, fps=30).validated()
    with pytest.raises(InputError, match="lead = 10.5 frames is outside"):
        with_recording(request, spoken_line.path, lead_frames=10.5)
    audio = with_recording(request, spoken_line.path).audio
    with pytest.raises(InputError, match="the audio's lead_frames = 1e\\+06 frames is outside"):
        with_alignment(request, dict(audio, lead_frames=1e6))


def test_stereo_96khz_is_converted(spoken_line, tmp_path):
    speech = spoken_line.speech
    positions = np.arange(int(len(speech.samples) * 96000 / speech.rate)) * speech.rate / 96000
    mono = np.interp(positions, np.arange(len(speech.samples)), speech.samples)
    path = tmp_path / "stereo96.wav"
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(96000)
        handle.writeframes((np.repeat(mono[:, None], 2, axis=1) * 30000).astype("<i2").tobytes())
    track = generate(spoken_line.script, path)
    assert [w["text"] for w in track.audio["alignment"]["words"]][0] == "Maybe"


def _wav(path, seconds=1.0, rate=16000, width=2, channels=1):
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(b"\x10\x20" * int(seconds * rate * channels * width / 2))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: p.write_text("not audio at all, just words"), "not audio"),
    (lambda p: _wav(p, width=1), "8-bit"),
    (lambda p: p.write_bytes(_wav(p).read_bytes()[:9000]), "truncated"),
    (lambda p: _wav(p, seconds=20 * 60, rate=8000), "20.0 min"),
    (lambda p: p.write_bytes(_wav(p).read_bytes()[:44] + bytes(32000)), "silent"),
])
def test_bad_audio_is_refused_with_a_message_and_nothing_written(tmp_path, make, message):
    audio, out = tmp_path / "take.wav", tmp_path / "line.json"
    make(audio)
    with pytest.raises(AudioError, match=message):
        read_recording(audio)
    result = run("generate", "--script", "Hello there.", "--audio", str(audio), "--out", str(out))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_voice_gives_each_gap_token_to_the_phone_after_it():
    from types import SimpleNamespace

    from model_runtime.audio.voice import _chunk_phones

    id_map = {"^": [1], "_": [0], "$": [2], "m": [25], "a": [14]}
    # ids: ^ _ m _ a _ $ ; samples: 100 per id except a long pad before "a"
    chunk = SimpleNamespace(phonemes=["m", "a"], sample_rate=1000,
                            phoneme_id_samples=np.array([100, 100, 100, 300, 100, 100, 100]))
    assert _chunk_phones(chunk, id_map, 0.0) == [("m", 0.1, 0.3), ("a", 0.3, 0.7)]


def test_cli_speak_writes_the_voice_and_times_the_line_by_its_phones(spoken_line, tmp_path):
    wav, out = tmp_path / "scratch.wav", tmp_path / "line.json"
    result = subprocess.run([sys.executable, "-m", "model_runtime", "generate", "--script", spoken_line.script,
                             "--emotion", "excited", "--speak", str(wav), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "KEYFRAMEFACE_CACHE": str(spoken_line.cache.parent)})
    assert result.returncode == 0, result.stderr
    track = Track.load(out)
    assert track.audio["alignment"]["source"] == "piper" and read_recording(wav).duration == pytest.approx(track.audio["duration"], abs=1e-3)
    assert any("scratch voice" in note for note in track.notes)


def test_batch_audio_column_relative_to_the_csv_times_its_line(spoken_line, tmp_path):
    folder = tmp_path / "project"
    (folder / "takes").mkdir(parents=True)
    (folder / "takes" / "bob.wav").write_bytes(spoken_line.path.read_bytes())
    (folder / "takes" / "broken.wav").write_bytes(b"RIFF....WAVEnot really")
    (folder / "lines.csv").write_text(
        "id,speaker,script,emotion,audio\n"
        f"bob,ANNA,{spoken_line.script},calm,takes/bob.wav\n"
        "plain,ANNA,Hello there.,calm,\n"
        f"bad,ANNA,{spoken_line.script},calm,takes/broken.wav\n", encoding="utf-8")
    result = run("batch", str(folder / "lines.csv"), "--out", str(tmp_path / "out"), "--quiet", "--jobs", "1")
    assert result.returncode == 1, result.stderr
    aligned = Track.load(tmp_path / "out" / "bob.track.json")
    assert aligned.audio["alignment"]["words"][1]["text"] == "Bob"
    assert "audio" not in json.loads((tmp_path / "out" / "plain.track.json").read_text())
    errors = (tmp_path / "out" / "errors.csv").read_text()
    assert "broken.wav" in errors and not (tmp_path / "out" / "bad.track.json").exists()


def test_dialogue_line_with_a_sound_file_is_aligned_where_the_strip_starts(spoken_line):
    from model_runtime.dialogue import parse_dialogue, perform_scene

    lines = parse_dialogue(f"[id anna_01] ANNA (calm): {spoken_line.script}\nBEN: Sure he will.\n")
    scene = perform_scene(lines, get_backend("builtin"), 30.0, speaker="ANNA",
                          sounds={"anna_01": (2.0, 9.0, str(spoken_line.path))})
    placed = scene.lines[0]
    assert placed.start == 2.0 and "alignment" in placed.track.audio
    assert placed.duration == pytest.approx(placed.track.duration)  # not stretched to the strip's 9 s
    words = placed.track.audio["alignment"]["words"]
    bob_starts = [start for phone, start, _ in spoken_line.speech.phones if phone in "pbm"][2]  # m, b of "Maybe"
    # The aligner counts a stop's silent closure into it, Piper the burst: they differ by tens of
    # ms (Piper's timing is random), far less than a line stretched over the strip would move it.
    assert words[1]["phones"][0][1] == pytest.approx(bob_starts, abs=0.07)


def test_server_generate_accepts_base64_audio_and_refuses_bad_audio_with_a_4xx(spoken_line):
    pytest.importorskip("fastapi")
    import base64
    import urllib.error
    import urllib.request

    from model_runtime.server import MAX_AUDIO_BYTES
    from tests.servers import our_server

    def post(url, body):
        request = urllib.request.Request(f"{url}/v1/generate", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    encoded = base64.b64encode(spoken_line.path.read_bytes()).decode()
    with our_server() as url:
        status, track = post(url, {"script": spoken_line.script, "audio": encoded, "audio_name": "bob.wav"})
        assert status == 200 and track["audio"]["file"] == "bob.wav" and track["audio"]["alignment"]["words"]
        status, answer = post(url, {"script": "Hi.", "audio": base64.b64encode(b"not audio").decode()})
        assert status == 422 and "not audio" in answer["error"]
        status, answer = post(url, {"script": "Hi.", "audio": encoded, "lead_frames": 11})
        assert status == 422 and answer["error"].startswith("lead_frames") and "10" in answer["error"]
        status, answer = post(url, {"script": "Hi.", "audio": "%%%"})
        assert status == 422 and "base64" in answer["error"]
        status, answer = post(url, {"script": "Hi.", "audio": "A" * (MAX_AUDIO_BYTES * 4 // 3 + 8)})
        assert status == 422 and answer["error"].startswith("audio")


def test_without_pocketsphinx_the_line_is_timed_from_text_with_how_to_enable_it(spoken_line, monkeypatch):
    from model_runtime.audio import alignment

    alignment._decoder.cache_clear()
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    try:
        request = with_recording(GenerateRequest(script=spoken_line.script).validated(), spoken_line.path)
    finally:
        alignment._decoder.cache_clear()
    assert request.alignment is None
    assert "-m pip install pocketsphinx==5.1.1" in request.audio["notes"][0]
    assert "timed from its text" in request.audio["notes"][0]


def test_the_mouth_closes_where_the_actor_paused(spoken_line, tmp_path):
    speech = spoken_line.speech
    me = [start for phone, start, _ in speech.phones if phone in "pbm"][5]  # the m of "me"
    cut = int(me * speech.rate) - int(0.02 * speech.rate)
    path = tmp_path / "paused.wav"
    write_wav(path, np.concatenate([speech.samples[:cut], np.zeros(speech.rate), speech.samples[cut:]]), speech.rate)
    track = generate(spoken_line.script, path, emotion="astonished")
    words = track.audio["alignment"]["words"]
    assert words[4]["start"] - words[3]["end"] > 0.8
    times, aperture = aperture_at(track)
    middle = (times > words[3]["end"] + 0.15) & (times < words[4]["start"] - 0.15)
    assert aperture[middle].max() < CLOSED, "the mouth hangs open in the actor's pause"


def aligned_word(text, *phones):
    """An aligned word from (phone, start, end) triples."""
    from model_runtime.audio.alignment import AlignedWord
    from model_runtime.script_timing import Phone

    timed = [Phone(name, start, end) for name, start, end in phones]
    return AlignedWord(text, timed[0].start, timed[-1].end, timed)


def test_each_recorded_bilabial_closes_and_opens_where_its_phone_starts_and_ends():
    from model_runtime.audio.alignment import Alignment

    # "Maybe me, Mom." with long vowels after the closures: the lips must part where each
    # closure ends, not somewhere along the slow blend to the next vowel's centre.
    alignment = Alignment([aligned_word("Maybe", ("M", 0.30, 0.38), ("EY", 0.38, 0.62), ("B", 0.62, 0.68), ("IY", 0.68, 0.80)),
                           aligned_word("me", ("M", 0.80, 0.90), ("IY", 0.90, 1.20)),
                           aligned_word("Mom", ("M", 1.20, 1.28), ("AA", 1.28, 1.55), ("M", 1.55, 1.65))],
                          2.2, 1.0, "test")
    request = with_alignment(GenerateRequest(script="Maybe me, Mom.", emotion="calm", fps=60).validated(),
                             {"alignment": alignment.to_dict()})
    times, aperture = aperture_at(get_backend("builtin").generate(request), 60.0)
    for start, end, runs_on in ((0.62, 0.68, False), (0.80, 0.90, False), (1.20, 1.28, False), (1.55, 1.65, True)):
        run = closure_around(times, aperture, (start + end) / 2)
        assert run is not None, f"no closure near the bilabial at {start:.2f} s"
        first, last = times[run[0]], times[run[1]]
        assert abs(first - start) <= 0.035, f"the lips meet {1000 * (first - start):+.0f} ms off the closure at {start:.2f} s"
        if not runs_on:
            assert abs(last - end) <= 0.035, f"the lips part {1000 * (last - end):+.0f} ms off the release at {end:.2f} s"


def _with_noise(folder: Path, name: str, *parts) -> Path:
    samples = np.concatenate(parts)
    path = folder / name
    write_wav(path, samples + np.random.default_rng(7).normal(0.0, 0.004, len(samples)), 22050)
    return path


@pytest.fixture(scope="module")
def paused_line(spoken_line, tmp_path_factory):
    """ "Stop! Put it back." spoken by the scratch voice after 0.3 s of silence, under faint
    noise: once in one take (the voice pauses about 0.1 s after "Stop!"), once as two takes
    with 0.4 s of silence between them. The p's phone times are the truth."""
    from types import SimpleNamespace

    from model_runtime.audio.voice import speak

    folder = tmp_path_factory.mktemp("paused")
    whole = speak("Stop! Put it back.", 1.0, cache=spoken_line.cache)
    stop, put = speak("Stop!", 1.0, cache=spoken_line.cache), speak("Put it back.", 1.0, cache=spoken_line.cache)
    assert whole.rate == stop.rate == put.rate == 22050
    lead, pause = 0.3, 0.4

    def bilabials(speech, offset):
        return [(start + offset, end + offset) for phone, start, end in speech.phones if phone == "p"]

    return SimpleNamespace(
        one_take=_with_noise(folder, "one_take.wav", np.zeros(int(lead * 22050)), whole.samples),
        one_take_put=bilabials(whole, lead)[1],
        two_takes=_with_noise(folder, "two_takes.wav", np.zeros(int(lead * 22050)), stop.samples,
                              np.zeros(int(pause * 22050)), put.samples),
        two_takes_stop=bilabials(stop, lead)[-1])


def _exported_aperture(track, folder):
    """Lip aperture per frame as the Live Link Face CSV export holds it (what an animator gets)."""
    from devtools.lip_measures import lip_aperture
    from model_runtime.formats.llf_csv import read_llf_csv, write_track_llf_csv

    path = folder / "exported.csv"
    write_track_llf_csv(path, track, 60.0)
    capture = read_llf_csv(path)
    return capture.times, lip_aperture(np.nan_to_num(capture.values))


def test_a_bilabial_after_a_pause_parts_where_its_release_is_heard(paused_line, tmp_path):
    # The aligner counts the pause into the p of "Put" and ends it 30-45 ms early; the release
    # heard in the recording puts it back.
    start, end = paused_line.one_take_put
    track = generate("Stop! Put it back.", paused_line.one_take, emotion="angry", fps=60)
    put = track.audio["alignment"]["words"][1]
    assert put["phones"][0][0] == "P" and abs(put["phones"][0][2] - end) <= 0.012, \
        f"the track records the p of 'Put' ending {1000 * (put['phones'][0][2] - end):+.0f} ms off its release"
    times, aperture = _exported_aperture(track, tmp_path)
    run = closure_around(times, aperture, (start + end) / 2)
    assert run is not None, "the lips do not close for the p of 'Put'"
    assert abs(times[run[1]] - end) <= 0.02, \
        f"the lips part {1000 * (times[run[1]] - end):+.0f} ms off the release of the p after the pause"


def test_a_bilabial_released_into_a_pause_parts_the_lips_before_the_mouth_rests(paused_line, tmp_path):
    start, end = paused_line.two_takes_stop
    times, aperture = _exported_aperture(generate("Stop! Put it back.", paused_line.two_takes, emotion="angry", fps=60),
                                         tmp_path)
    # Piper may hold the silent closure longer than the audio can tell: look from its start to
    # where the mouth rests.
    frames = np.flatnonzero((times >= start - 0.03) & (times <= end + 0.1))
    shut = frames[aperture[frames] < CLOSED]
    assert len(shut), "the p of 'Stop' does not close"
    assert aperture[shut[0]:frames[-1] + 1].max() >= CLOSED, "the lips stay shut from the p of 'Stop' on into the pause"


def test_closures_move_onto_the_fall_and_release_heard_and_leave_an_absorbed_pause_out():
    from model_runtime.audio.alignment import Alignment
    from model_runtime.audio.closures import SILENT_SIDE, refine_closures

    rate = 16000
    t = np.arange(int(1.3 * rate)) / rate
    vowel = 0.2 * sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    samples = np.random.default_rng(3).normal(0.0, 0.003, len(t))
    samples += np.where((t >= 0.30) & (t < 0.50), vowel, 0.0)  # "o" of "Stop", closed at 0.50
    samples += np.where((t >= 0.90) & (t < 1.20), vowel, 0.0)  # "u" of "Put", released at 0.90

    # As the aligner places them: the pause split between the two p's, the second released early.
    alignment = Alignment([aligned_word("Stop", ("AA", 0.30, 0.48), ("P", 0.48, 0.70)),
                           aligned_word("Put", ("P", 0.70, 0.88), ("UH", 0.88, 1.10), ("T", 1.10, 1.20))],
                          1.3, 1.0, "test")
    refine_closures(alignment, samples, rate)
    stop, put = alignment.words
    assert stop.phones[1].start == pytest.approx(0.50, abs=0.006)  # where the vowel stops
    assert stop.phones[1].end == pytest.approx(stop.phones[1].start + SILENT_SIDE)
    assert put.phones[0].end == pytest.approx(0.90, abs=0.006)  # where the vowel starts
    assert put.phones[0].start == pytest.approx(put.phones[0].end - SILENT_SIDE)
    assert put.phones[1].start == put.phones[0].end and stop.phones[0].end == stop.phones[1].start
    assert (stop.end, put.start) == (stop.phones[1].end, put.phones[0].start)  # the pause stays a gap


def test_a_recorded_p_before_a_pause_is_released_then_the_mouth_rests():
    from model_runtime.audio.alignment import Alignment

    alignment = Alignment([aligned_word("Stop", ("S", 0.20, 0.30), ("T", 0.30, 0.36), ("AA", 0.36, 0.50), ("P", 0.50, 0.57)),
                           aligned_word("Put", ("P", 1.10, 1.17), ("UH", 1.17, 1.35), ("T", 1.35, 1.45))],
                          1.8, 1.0, "test")
    request = with_alignment(GenerateRequest(script="Stop! Put.", emotion="angry", fps=60).validated(),
                             {"alignment": alignment.to_dict()})
    times, aperture = aperture_at(get_backend("builtin").generate(request), 60.0)
    run = closure_around(times, aperture, 0.535)
    assert run is not None and times[run[0]] <= 0.535, "the p of 'Stop' does not close"
    assert abs(times[run[1]] - 0.57) <= 0.035, f"the lips part {1000 * (times[run[1]] - 0.57):+.0f} ms off the release"
    pause = (times > 0.75) & (times < 0.95)
    assert aperture[pause].max() < CLOSED, "the mouth does not rest in the pause"
