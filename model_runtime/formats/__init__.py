"""Interchange formats, each reader beside its writer: Live Link Face CSV and KeyframeFace JSON.
(The track JSON lives with the track model in ``track.py``.)"""
