"""Exceptions genzoo raises for conditions a user can fix.

The CLI prints a :class:`GenzooError` as one line (no traceback unless ``--verbose``) and exits
with a non-zero status; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class GenzooError(Exception):
    """A problem the user can act on; the message says what to do."""

    exit_code = 1


class PluginError(GenzooError):
    """A plugin is broken: it failed to import, raised in a hook or yielded a bad spec."""


class UnknownNameError(GenzooError, KeyError):
    """No component of that kind has that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AmbiguousNameError(GenzooError, KeyError):
    """Two plugins provide the same name; the user must qualify it as ``plugin:name``."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(GenzooError):
    """A config file or ``--set key=value`` override is invalid."""


class CheckpointError(GenzooError):
    """A checkpoint file is missing, corrupt, not safetensors or from an unknown format."""


class PluginMissingError(CheckpointError):
    """A checkpoint needs a plugin that is not installed."""


class DataError(GenzooError):
    """A data set cannot be found or read."""


class NotApplicable(GenzooError):
    """A metric cannot score this model or data set (e.g. class coverage with a feature network that
    has no classifier head); the evaluation runner reports it as ``n/a`` with this message, not as an
    error."""


class TrainingDiverged(GenzooError):
    """A loss became NaN or infinite."""


class RunFolderBusy(GenzooError):
    """Another process is training into the same run folder."""


class OutputError(GenzooError):
    """A file could not be written: a full or read-only disk, a missing permission."""


class CheckpointWriteError(CheckpointError, OutputError):
    """A checkpoint could not be written (the disk is full or read-only); the previous one is intact."""
