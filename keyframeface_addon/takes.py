"""Takes: every generation or import is a take, a set of actions the tool owns that share a
take id: the main action (what the Graph Editor shows), its layer actions on the tool's NLA
tracks (rest, lip sync) and the Head & Eyes action on the armature when bones are mapped, or
on the head object when the head has no head bone.
``Take`` owns what is stored on them (start frame, blend, the track it was generated from, the
artist's action from before) and its timeline markers: the scene shows the playing take's.
Switching, duplicating and deleting a take touch only its actions; the artist's own actions
are never changed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import bpy

from ..model_runtime.playback import keyframe_frames
from ..model_runtime.track import Track
from . import anim_compat
from .pose_bones import POSE_TRACK, place_pose_strip, release_pose
from .rig import RigMapping, pose_targets
from .writers.channels import clear_track, place_strip, scene_fps

TAKE_TAG = "keyframeface_take"
# All actions of one take share a take id; the role says which is which.
TAKE_ID = "keyframeface_take_id"
ROLE = "keyframeface_role"
MAIN_ROLE = "take"
REST_ROLE = "rest"
POSE_ROLE = "head_eyes"
TRACK_PROPERTY = "keyframeface_track"
START_FRAME = "keyframeface_start_frame"
BLEND = "keyframeface_blend"
SEED = "keyframeface_seed"
PREVIOUS_ACTION = "keyframeface_previous_action"
SHOWS_MARKERS = "keyframeface_markers"
LAYER_ACTIONS = "keyframeface_layer_actions"
# The take's NLA tracks on each Key, bottom up: the rest holds every mapped shape at 0, layers add.
REST_TRACK = "KeyframeFace Rest"
LAYER_TRACKS = {"lipsync": "KeyframeFace Lip Sync"}
MARKER_PREFIX = "KF"
LINE_MARKER = "L"
MARKER_NAME_LIMIT = 63


def is_take(action: bpy.types.Action | None) -> bool:
    return action is not None and bool(action.get(TAKE_TAG))


def track_of(action: bpy.types.Action | None) -> Track | None:
    """The track a take was generated from, stored on its main action."""
    text = action.get(TRACK_PROPERTY) if action is not None else None
    return Track.from_json(text) if text else None


def layer_track_name(layer: str) -> str:
    return LAYER_TRACKS.get(layer, f"KeyframeFace {layer}")


def layer_track(key: bpy.types.Key, layer: str = "lipsync"):
    """The NLA track holding a layer of the generated takes on ``key``, if any."""
    animation = key.animation_data
    return animation.nla_tracks.get(layer_track_name(layer)) if animation is not None else None


def marker_name(index: int, label: str, description: str, prefix: str = MARKER_PREFIX, speaker: str = "") -> str:
    name = f"{prefix}{index + 1} {label or speaker}: {description}" if (label or speaker) else f"{prefix}{index + 1} {description}"
    encoded = name.encode("utf-8")
    if len(encoded) <= MARKER_NAME_LIMIT:
        return name
    return encoded[: MARKER_NAME_LIMIT - 3].decode("utf-8", "ignore").rstrip() + "..."


def track_markers(track: Track, fps: float) -> list[tuple[int, str]]:
    """``(frame, name)`` markers for a track, frames from its start: one per line for a dialogue
    scene (``KFL3 ANNA: Get out.``), else one per keyframe (``KF2 apex: brows pull down``)."""
    lines = track.analysis.get("lines")
    if lines:
        return [(round(line["start"] * fps), marker_name(index, "", line["script"], prefix=MARKER_PREFIX + LINE_MARKER,
                                                        speaker=line.get("speaker", "")))
                for index, line in enumerate(lines)]
    return [(frame, marker_name(index, keyframe.label, keyframe.description))
            for index, (keyframe, frame) in enumerate(zip(track.keyframes, keyframe_frames(track, fps)))]


@dataclass(frozen=True)
class Take:
    """One take, by its main action (on Blender < 4.4, the primary mesh's)."""

    action: bpy.types.Action

    @classmethod
    def of(cls, action: bpy.types.Action | None) -> Take | None:
        return cls(action) if is_take(action) else None

    @classmethod
    def create(cls, mains: list[bpy.types.Action], layers: list[bpy.types.Action], start_frame: int, blend: str,
               previous_action: str | None, shows_markers: bool, properties: dict | None = None) -> Take:
        """Stamp freshly written actions as one new take; returns it."""
        take_id = uuid.uuid4().hex
        for action in mains + layers:
            action[TAKE_TAG] = action in mains
            action[TAKE_ID] = take_id
            action.use_fake_user = True
        for action in mains:
            action[ROLE] = MAIN_ROLE
            for name, value in (properties or {}).items():
                action[name] = value
            action[START_FRAME] = int(start_frame)
            action[BLEND] = blend
            action[SHOWS_MARKERS] = shows_markers
            action[LAYER_ACTIONS] = ",".join(a.name for a in layers)
            if previous_action:
                action[PREVIOUS_ACTION] = previous_action
        return cls(mains[0])

    @property
    def name(self) -> str:
        return self.action.name

    @property
    def id(self) -> str:
        return self.action.get(TAKE_ID)

    @property
    def start_frame(self) -> int:
        return int(self.action.get(START_FRAME, 1))

    @property
    def blend(self) -> str:
        return self.action.get(BLEND, "REPLACE")

    @property
    def seed(self) -> int | None:
        return self.action.get(SEED)

    @property
    def track(self) -> Track | None:
        return track_of(self.action)

    @property
    def previous_action(self) -> bpy.types.Action | None:
        """The artist's action from before the first take, if it still exists."""
        name = self.action.get(PREVIOUS_ACTION)
        return bpy.data.actions.get(name) if name else None

    def actions(self) -> list[bpy.types.Action]:
        return [a for a in bpy.data.actions if a.get(TAKE_ID) == self.id]

    def role_actions(self, role: str) -> list[bpy.types.Action]:
        return [a for a in self.actions() if a.get(ROLE) == role]

    def main_actions(self) -> list[bpy.types.Action]:
        return self.role_actions(MAIN_ROLE)

    def set(self, name: str, value) -> None:
        """Record ``value`` on every main action of the take."""
        for action in self.main_actions():
            action[name] = value

    def store_track(self, track: Track) -> None:
        self.set(TRACK_PROPERTY, track.to_json(indent=None))

    def keyframe_frame(self, track: Track, index: int, fps: float) -> int:
        return self.start_frame + keyframe_frames(track, fps)[index]

    def markers(self, fps: float) -> list[tuple[int, str]]:
        """``(frame, name)`` of the take's timeline markers, in scene frames."""
        track = self.track
        if track is None or not self.action.get(SHOWS_MARKERS, True):
            return []
        return [(self.start_frame + frame, name) for frame, name in track_markers(track, fps)]


def artist_action_name(action: bpy.types.Action | None) -> str | None:
    """The artist's own action behind ``action``: itself, or the one a take remembers."""
    if action is None:
        return None
    return action.get(PREVIOUS_ACTION) if is_take(action) else action.name


def show_markers(scene: bpy.types.Scene, old: list[tuple[int, str]], new: list[tuple[int, str]]) -> list:
    """Replace the markers ``old`` (a take's, as it was) by ``new`` in the scene; returns the
    markers made. Markers the artist added or renamed stay."""
    doomed = set(old)
    for marker in list(scene.timeline_markers):
        if (marker.frame, marker.name) in doomed:
            scene.timeline_markers.remove(marker)
    return [scene.timeline_markers.new(name, frame=frame) for frame, name in new]


def takes_of(rig: RigMapping) -> list[Take]:
    """The takes that animate this rig, oldest first."""
    if rig.primary is None:
        return []
    key = rig.primary.key
    return [Take(action) for action in bpy.data.actions
            if action.get(ROLE) == MAIN_ROLE and is_take(action) and anim_compat.channels_for([action], key)[0] is not None]


def active_take(rig: RigMapping) -> Take | None:
    if rig.primary is None:
        return None
    return Take.of(anim_compat.current_assignment(rig.primary.key)[0])


def switch_take(scene: bpy.types.Scene, rig: RigMapping, take: Take) -> None:
    """Play ``take`` on every mesh of the rig (its main action and its layer strips) and on the
    pose targets (mapped bones, head object), and show its markers instead of the take that played."""
    playing = active_take(rig)
    old_markers = playing.markers(scene_fps(scene)) if playing is not None else []
    group = take.actions()
    mains = [a for a in group if a.get(ROLE) == MAIN_ROLE]
    for mesh in rig.meshes:
        action, slot = anim_compat.channels_for(mains, mesh.key)
        if action is not None:
            anim_compat.assign(mesh.key, action, slot)
            mesh.key.animation_data.action_blend_type = take.blend
        elif mesh.key.animation_data is not None and is_take(mesh.key.animation_data.action):
            mesh.key.animation_data.action = None  # a mesh the take does not key plays its rest
        for role, track_name in ((REST_ROLE, REST_TRACK), *LAYER_TRACKS.items()):
            layer_action, layer_slot = anim_compat.channels_for([a for a in group if a.get(ROLE) == role], mesh.key)
            if layer_action is None:
                clear_track(mesh.key, track_name)
            elif role == REST_ROLE:
                place_strip(mesh.key, track_name, layer_action, layer_slot, take.start_frame, "REPLACE", "HOLD")
            else:
                place_strip(mesh.key, track_name, layer_action, layer_slot, take.start_frame, "ADD", "NOTHING")
    _switch_pose(rig, take, group)
    show_markers(scene, old_markers, take.markers(scene_fps(scene)))


def _switch_pose(rig: RigMapping, take: Take, group) -> None:
    """Play the take's head and eye action on each pose target (armature, head object)."""
    pose_actions = [a for a in group if a.get(ROLE) == POSE_ROLE]
    for target in pose_targets(rig):
        action, slot = anim_compat.channels_for(pose_actions, target)
        if action is not None:
            place_pose_strip(target, action, slot, take.start_frame)
            continue
        # A take without head and eye keys here: another take's strip must not play under it.
        track = target.animation_data.nla_tracks.get(POSE_TRACK) if target.animation_data else None
        if track is not None and any(strip.action is not None and strip.action.get(TAKE_ID) for strip in track.strips):
            release_pose(target)


def duplicate_take(take: Take) -> Take:
    """Copy every action of the take under a new take id; returns the copy."""
    new_id = uuid.uuid4().hex
    copies = {}
    for action in take.actions():
        copy = anim_compat.copy_action(action, f"{action.name} copy")
        copy[TAKE_ID] = new_id
        copy.use_fake_user = True
        copies[action.name] = copy
    for copy in copies.values():
        if LAYER_ACTIONS in copy:
            names = [n for n in copy[LAYER_ACTIONS].split(",") if n]
            copy[LAYER_ACTIONS] = ",".join(copies[n].name for n in names if n in copies)
    return Take(copies[take.name])


def _animated_ids(rig: RigMapping) -> list[bpy.types.ID]:
    return [mesh.key for mesh in rig.meshes] + pose_targets(rig)


def delete_take(scene: bpy.types.Scene, rig: RigMapping, take: Take) -> Take | None:
    """Remove the take's actions. If it was playing, the newest other take plays instead (or
    the artist's action from before the first take). Returns what plays now, if a take."""
    playing = active_take(rig) == take
    doomed = take.actions()
    remaining = [t for t in takes_of(rig) if t.action not in doomed]
    previous = take.previous_action
    if playing:
        show_markers(scene, take.markers(scene_fps(scene)), [])
    for target in pose_targets(rig):
        track = target.animation_data.nla_tracks.get(POSE_TRACK) if target.animation_data else None
        if track is not None and any(strip.action in doomed for strip in track.strips):
            release_pose(target)  # the head and eyes rest, unless another take's strip comes in
    for id_ in _animated_ids(rig):
        animation = id_.animation_data
        if animation is None:
            continue
        if animation.action in doomed:
            animation.action = None
        for nla_track in animation.nla_tracks:
            for strip in list(nla_track.strips):
                if strip.action in doomed:
                    nla_track.strips.remove(strip)
    for action in doomed:
        bpy.data.actions.remove(action)
    if not playing:
        return None
    if remaining:
        switch_take(scene, rig, remaining[-1])
        return remaining[-1]
    if previous is not None:
        for mesh in rig.meshes:
            animation = mesh.key.animation_data or mesh.key.animation_data_create()
            animation.action = previous
            animation.action_blend_type = "REPLACE"
    return None

