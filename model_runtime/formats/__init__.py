"""Interchange formats, each reader beside its writer: Live Link Face CSV, KeyframeFace JSON and
the rig mapping JSON.
(The track JSON lives with the track model in ``track.py``.)"""
