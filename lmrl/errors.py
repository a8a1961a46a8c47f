"""The faults a person can act on: each is one line, which the binaries print and exit 1 on.

  UserError                    the root: a fault the user can act on, said in one line
    ConfigError                a config field or flag holds a bad value (names the field)
    WorkdirError               the work directory: another config, in use, a full disk, an
                               unreadable result file (`workdir.WorkdirError` is this class)
    checkpoints.CorruptCheckpointError   no checkpoint of a part-done sweep can be read

Nothing here imports JAX: the binaries and the config checks raise these before anything
compiles.
"""


class UserError(Exception):
  """A fault the user can act on; its message is one line (the binaries print it and exit 1)."""


class ConfigError(UserError, ValueError):
  """A config field holds a bad value; the message is one line that names the field."""


class WorkdirError(UserError):
  """The work directory cannot be used or written; the message is one line naming the file."""
