"""The one exception type a user sees as a one-line message instead of a traceback."""


class CycleGANError(Exception):
    """A problem the user can act on: the message names the file, option or value and what to do."""
