"""Backends from Blender: our server on loopback (allowed while Allow Online Access is off),
other hosts refused offline, failures write nothing, work off the main thread, and secrets
never in the .blend."""

import threading
import time

import pytest

from model_runtime.backends import GenerateRequest, get_backend
from tests.servers import FaultServer, chat_answer, free_port, our_server, send


@pytest.fixture
def prefs(blender):
    import bpy

    prefs = bpy.context.preferences.addons[blender().__name__].preferences
    saved = {name: getattr(prefs, name) for name in ("backend", "server_url", "server_token", "openai_base_url",
                                                     "openai_model", "api_key", "timeout", "retries", "plan_source")}
    yield prefs
    for name, value in saved.items():
        setattr(prefs, name, value)


def _nothing_written(obj):
    animation = obj.data.shape_keys.animation_data
    return animation is None or animation.action is None


def test_our_server_on_loopback_while_offline(blender, demo_head, prefs):
    import bpy

    pytest.importorskip("fastapi", reason="our server needs FastAPI in this Python")
    assert not bpy.app.online_access  # Blender as a module starts offline
    with our_server("--token", "tok") as url:
        prefs.backend, prefs.server_url, prefs.server_token = "server", url, "tok"
        assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    take = demo_head.data.shape_keys.animation_data.action
    track = blender("keyframeface_addon.takes").track_of(take)
    settings = bpy.context.scene.keyframeface
    local = get_backend("builtin").generate(GenerateRequest(script=settings.script, context=settings.context,
                                                            emotion=settings.emotion, seed=settings.seed, fps=24.0))
    assert [k.description for k in track.keyframes] == [k.description for k in local.keyframes]


def test_other_hosts_refused_while_online_access_is_off(blender, demo_head, prefs):
    import bpy

    prefs.backend, prefs.openai_base_url, prefs.openai_model = "openai", "http://models.example.com/v1", "m"
    with pytest.raises(RuntimeError, match="Allow Online Access"):
        bpy.ops.keyframeface.generate()
    assert _nothing_written(demo_head)
    problem = blender("keyframeface_addon.backend_settings").backend_problem(prefs)
    assert "Preferences > System > Network" in problem


@pytest.mark.parametrize("fault, message", [
    ("down", "connection refused"),
    ("500", "answered 500"),
    ("garbage", "no ARKit parameter names"),
])
def test_failures_report_and_write_nothing(blender, demo_head, prefs, fault, message):
    import bpy

    server = None
    if fault == "down":
        url = f"http://127.0.0.1:{free_port()}/v1"
    else:
        server = FaultServer(lambda h: send(h, 500, b'{"error": "boom"}') if fault == "500"
                             else send(h, 200, chat_answer('{"Keyframe_one": {"grin": 1}}')))
        url = server.url
    prefs.backend, prefs.openai_base_url, prefs.openai_model, prefs.retries = "openai", url, "m", 2
    prefs.plan_source = "builtin"
    try:
        with pytest.raises(RuntimeError, match=message):
            bpy.ops.keyframeface.generate()
    finally:
        if server:
            server.close()
    assert _nothing_written(demo_head) and not bpy.context.scene.timeline_markers


def test_work_runs_off_the_main_thread_and_writes_only_when_finished(blender, demo_head, prefs):
    import bpy

    generation = blender("keyframeface_addon.generation")
    jobs = blender("keyframeface_addon.jobs")
    release = threading.Event()

    def slow(handler):
        release.wait(10)
        send(handler, 200, chat_answer(
            '{"Keyframe_one": {' + ", ".join(f'"{n}": 0.2' for n in _PASCAL) + "}}"))

    server = FaultServer(slow)
    try:
        backend = blender("model_runtime.backends").get_backend("openai", base_url=server.url, model="m",
                                                                plan="builtin", timeout=20)
        scene, settings = bpy.context.scene, bpy.context.scene.keyframeface
        pending = generation.prepare_generation(scene, demo_head, settings)
        started = time.monotonic()
        job = jobs.BackgroundJob(lambda: pending.compute(backend), "generating with openai")
        assert time.monotonic() - started < 0.2 and not job.done and job in jobs.RUNNING
        assert _nothing_written(demo_head)  # the main thread is free while the server thinks
        release.set()
        assert job.wait(30) and job.error is None
        generation.finish_generation(scene, demo_head, settings, pending, job.result)
        job.forget()
        assert not _nothing_written(demo_head) and not jobs.RUNNING

        release.clear()
        cancelled = jobs.BackgroundJob(lambda: pending.compute(backend), "generating with openai")
        cancelled.cancel()  # Esc: the answer is dropped, nothing is written for it
        release.set()
        assert cancelled.wait(30) and cancelled.cancelled and cancelled not in jobs.RUNNING
    finally:
        release.set()
        server.close()


def test_api_key_never_in_the_blend(blender, demo_head, prefs, tmp_path):
    import bpy

    prefs.api_key = "sk-never-in-a-blend-0123456789"
    prefs.server_token = "tok-never-in-a-blend-987"
    assert bpy.ops.keyframeface.generate() == {"FINISHED"}
    path = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), compress=False)
    data = path.read_bytes()
    assert b"KeyframeFace" in data or b"KFF" in data
    assert b"sk-never-in-a-blend" not in data and b"tok-never-in-a-blend" not in data


from model_runtime.arkit import LIVE_LINK_FACE_COLUMNS, POSE, pascal  # noqa: E402

_PASCAL = [pascal(n) for n in LIVE_LINK_FACE_COLUMNS] + [pascal(n) for n in POSE]


def test_variations_and_keyframe_edits_fail_cleanly_on_a_dead_server(blender, demo_head, prefs):
    import bpy

    assert bpy.ops.keyframeface.generate() == {"FINISHED"}  # built-in take to edit
    take = demo_head.data.shape_keys.animation_data.action
    before = blender("keyframeface_addon.takes").track_of(take).to_dict()
    actions = len(bpy.data.actions)
    prefs.backend, prefs.openai_base_url, prefs.openai_model, prefs.retries = (
        "openai", f"http://127.0.0.1:{free_port()}/v1", "m", 1)
    for call in (lambda: bpy.ops.keyframeface.generate_variations(count=2),
                 lambda: bpy.ops.keyframeface.keyframe_resolve(index=1, description="A broad grin."),
                 lambda: bpy.ops.keyframeface.keyframe_regenerate(index=1)):
        with pytest.raises(RuntimeError, match="connection refused"):
            call()
    assert len(bpy.data.actions) == actions and demo_head.data.shape_keys.animation_data.action == take
    assert blender("keyframeface_addon.takes").track_of(take).to_dict() == before


def test_preferences_are_generated_from_the_backend_declarations(blender, prefs):
    import bpy

    backends = blender("model_runtime.backends")
    preferences = blender("keyframeface_addon.preferences")
    settings = blender("keyframeface_addon.backend_settings")
    properties = prefs.bl_rna.properties
    for info in backends.available_backends():
        prefs.backend = info.name
        name, options = settings.backend_options(prefs)
        assert name == info.name and set(options) == {o.name for o in info.options if o.preference}
        for option in info.options:
            if option.preference:
                prop = properties[option.preference]
                assert prop.name == option.label and (prop.subtype == "PASSWORD") == option.secret
                if option.default is not None:
                    assert prop.default == pytest.approx(option.default) if option.kind == "float" else prop.default == option.default

    # A new backend's declared options become preference properties with no other change.
    depth = backends.BackendOption("depth", "int", "Depth", "how hard the fake thinks", default=2,
                                   preference="fake_depth", minimum=1, maximum=5)
    key = backends.BackendOption("key", "text", "Fake Key", "a secret", preference="fake_key", secret=True)
    backends.register("fake", "Fake", "A fake backend for the test.", lambda **options: None, options=(depth, key))
    try:
        generated = preferences.backend_preferences()
        assert generated["fake_depth"] is depth and generated["fake_key"] is key
        prop = preferences.option_property(depth)
        assert prop.function is bpy.props.IntProperty
        assert (prop.keywords["default"], prop.keywords["min"], prop.keywords["max"], prop.keywords["name"]) == (2, 1, 5, "Depth")
        prop = preferences.option_property(key)
        assert prop.function is bpy.props.StringProperty and prop.keywords["subtype"] == "PASSWORD"
    finally:
        del backends._REGISTRY["fake"]
