"""Errors that carry a message a user can act on. Front ends (the command line, the server,
Blender operators) show ``str(error)`` as it is; a traceback is never the only message."""


class KeyframeFaceError(Exception):
    """Base of every expected failure: bad input, bad files, unavailable backends."""


class TrackError(KeyframeFaceError):
    """A track JSON that is not a valid KeyframeFace track."""


class FormatError(KeyframeFaceError):
    """A file in an interchange format (Live Link Face CSV, KeyframeFace JSON) that cannot be read."""


class InputError(KeyframeFaceError):
    """Generation input (script, context, emotion, numbers) that cannot be used."""


class BackendError(KeyframeFaceError):
    """A backend that is unknown, unavailable or failed."""


class AnswerError(BackendError):
    """A server's or model's answer that could not be used; asking again may help."""
