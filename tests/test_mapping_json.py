"""Rig mapping JSON, read and checked as a format: a bad file gets a FormatError that says what
and where; a good one round-trips."""

import json

import pytest

from model_runtime.errors import FormatError
from model_runtime.formats.mapping_json import MappingDocument, read_mapping_json, write_mapping_json

GOOD = {"format": "keyframeface.mapping", "version": 1,
        "meshes": {"Face": {"jawOpen": "A25_Jaw_Open", "eyeBlinkLeft": "Blink_L", "tongueOut": ""}},
        "pose": {"armature": "Armature", "head": "Head", "left_eye": "", "right_eye": ""}}


def test_round_trip_in_arkit_order(tmp_path):
    path = tmp_path / "mapping.json"
    write_mapping_json(path, MappingDocument({"Face": {"tongueOut": "Tongue", "eyeBlinkLeft": "Blink_L"}},
                                        {"armature": "Rig", "head": "Head", "left_eye": "L", "right_eye": "R",
                                         "head_object": "Head pivot"}))
    document = json.loads(path.read_text())
    assert list(document["meshes"]["Face"]) == ["eyeBlinkLeft", "tongueOut"]
    back = read_mapping_json(path)
    assert back.meshes == {"Face": {"eyeBlinkLeft": "Blink_L", "tongueOut": "Tongue"}}
    assert back.pose == {"armature": "Rig", "head": "Head", "left_eye": "L", "right_eye": "R", "head_object": "Head pivot"}
    assert not list(tmp_path.glob("*.part"))


def test_pose_is_optional(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({key: value for key, value in GOOD.items() if key != "pose"}))
    assert read_mapping_json(path).pose == {"armature": "", "head": "", "left_eye": "", "right_eye": "", "head_object": ""}


def test_a_file_from_before_the_head_object_reads_as_it_did(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps(GOOD))  # its pose has no "head_object"
    assert read_mapping_json(path).pose == {**GOOD["pose"], "head_object": ""}


def _with(**changes):
    document = json.loads(json.dumps(GOOD))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = document
        for parent in parents:
            target = target[parent]
        target[last] = value
    return document


@pytest.mark.parametrize("document, message", [
    ([1, 2], "not a KeyframeFace mapping"),
    ({"format": "keyframeface.track"}, "not a KeyframeFace mapping"),
    (_with(version=2), "unsupported mapping version 2"),
    (_with(colour="red"), "unknown field(s): colour"),
    (_with(meshes={}), "\"meshes\" must be an object with at least one mesh"),
    (_with(meshes={"Face": ["jawOpen"]}), "meshes.Face must be an object"),
    (_with(meshes__Face__jawWide="Jaw"), "meshes.Face: unknown ARKit name(s) jawWide"),
    (_with(meshes__Face__JawOpen="Jaw"), "names are camelCase"),
    (_with(meshes__Face__jawOpen=3), "meshes.Face.jawOpen: the shape-key name must be text"),
    (_with(pose="Head"), "\"pose\" must be an object"),
    (_with(pose__nose="Nose"), "pose: unknown field(s) nose"),
    (_with(pose__head=None), "pose.head: the bone or armature name must be text"),
    (_with(pose__head_object=["Head"]), "pose.head_object: the object name must be text"),
])
def test_bad_documents_are_refused_with_the_place(tmp_path, document, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(FormatError) as caught:
        read_mapping_json(path)
    assert message in str(caught.value)


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"{\"format\": ", "is not valid JSON"),
    (b"{\"meshes\": \"caf\xe9\"}", "is not UTF-8 text"),  # Latin-1 (a BOM would say UTF-16)
])
def test_unreadable_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=message):
        read_mapping_json(path)
    with pytest.raises(FormatError, match="cannot read"):
        read_mapping_json(tmp_path / "missing.json")
