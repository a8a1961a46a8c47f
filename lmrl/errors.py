"""The faults a person can act on: each is one line, which the binaries print and exit 1 on.

  UserError                    the root: a fault the user can act on, said in one line
    ConfigError                a config field or flag holds a bad value (names the field)
    WorkdirError               the work directory: another config, in use, a full disk, an
                               unreadable result file (`workdir.WorkdirError` is this class)
    checkpoints.CorruptCheckpointError   no checkpoint of a part-done sweep can be read
    LostProcessError           a process of a `jax.distributed` job stopped answering (the
                               binaries exit at once, skipping JAX's shutdown, which would
                               wait for the lost process and abort with a C++ log)

Nothing here imports JAX: the binaries and the config checks raise these before anything
compiles.
"""


class UserError(Exception):
  """A fault the user can act on; its message is one line (the binaries print it and exit 1)."""


class ConfigError(UserError, ValueError):
  """A config field holds a bad value; the message is one line that names the field."""


class WorkdirError(UserError):
  """The work directory cannot be used or written; the message is one line naming the file."""


class LostProcessError(UserError):
  """Another process of the `jax.distributed` job was lost; restarting every process resumes."""


# What a collective or the coordination service says when a peer process is gone (gloo on CPU,
# the coordination service's heartbeats, gRPC): matched in the text of JAX's runtime errors.
LOST_PROCESS_SIGNS = ('gloo', 'heartbeat', 'unavailable', 'connection reset', 'connection closed',
                      'broken pipe', 'deadline_exceeded', 'coordination')


def lost_process(error: BaseException, heartbeat_seconds: int) -> LostProcessError | None:
  """A `LostProcessError` of one line if `error` says a peer process is gone, else None."""
  text = str(error)
  if not any(sign in text.lower() for sign in LOST_PROCESS_SIGNS):
    return None
  first = text.strip().splitlines()[0][:200] if text.strip() else type(error).__name__
  return LostProcessError(
      f'a process of the jax.distributed job was lost ({first}); restart every process with the '
      'same command to resume from the last checkpoint (config.experiment.heartbeat_seconds = '
      f'{heartbeat_seconds} bounds how long a silent process is waited for)')
