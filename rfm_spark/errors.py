"""What can go wrong that the user can fix, as one family of exceptions.

Every `RfmError` carries one clear line for the user and the exit code a job ends with:
2 for a configuration or an argument that cannot work, 1 for a run that failed on its
data or on another job. Anything else raised by rfm_spark is a bug, and the jobs show
its traceback.
"""
from __future__ import annotations


class RfmError(Exception):
    """A problem the user can fix; the message says what and where."""
    exit_code = 1


class ConfigError(RfmError):
    """A configuration file, `--set` override or argument that cannot be run."""
    exit_code = 2


class InputError(RfmError):
    """The input cannot be read or used as configured (no files, no valid rows, ...)."""


class RunConflictError(RfmError):
    """Another attempt claimed the run while this one was writing it."""


class InputChangedError(RfmError):
    """The run id was written from other input; replacing it needs `force`."""
