"""TensorBoard event files of the live metrics, when tensorboardX is installed (optional).

`pip install -e '.[tensorboard]'` (tensorboardX: small, no TensorFlow), then

  tensorboard --logdir <workdir>/tensorboard

shows one run per agent and strategy (per grid point of a hyper-parameter sweep:
`joint_passive[learning_rate=0.001]`), each metric's mean over the seeds that have not failed,
against the number of human choices (the step), written after every chunk as `metrics.jsonl`
is. Without tensorboardX nothing is written and nothing fails (`available()` is False).
"""

import importlib.util
import os

import numpy as np


def available() -> bool:
  """Whether tensorboardX is installed (it is imported only when a `Writer` is made)."""
  return importlib.util.find_spec('tensorboardX') is not None


def logdir(workdir: str) -> str:
  return os.path.join(workdir, 'tensorboard')


class Writer:
  """One `tensorboardX.SummaryWriter` per run name, under `<workdir>/tensorboard/<name>`."""

  def __init__(self, workdir: str):
    import tensorboardX  # pylint: disable=g-import-not-at-top
    self._summary_writer = tensorboardX.SummaryWriter
    self._root = logdir(workdir)
    self._writers = {}

  def add(self, name: str, metrics: dict[str, np.ndarray], rounds: list[int],
          queries_per_round: int) -> None:
    """Means over usable seeds of `metrics` (float[S, T+1, ...]) at `rounds`, flushed."""
    if name not in self._writers:
      self._writers[name] = self._summary_writer(os.path.join(self._root, name))
    writer = self._writers[name]
    for r in rounds:
      ok_S = np.asarray(metrics['failed'])[:, r] == 0
      if not ok_S.any():
        continue
      for metric, value in metrics.items():
        if metric == 'failed':
          continue
        mean = np.asarray(value)[ok_S, r].mean(0)
        if not np.all(np.isfinite(mean)):  # E.g. disagreement on shown pairs before any.
          continue
        if mean.ndim:  # Per group: coverage_g0, coverage_g1, ...
          for g, v in enumerate(mean):
            writer.add_scalar(f'{metric.removesuffix("_G")}_g{g}', float(v), r * queries_per_round)
        else:
          writer.add_scalar(metric, float(mean), r * queries_per_round)
      writer.add_scalar('failed_seeds', float((~ok_S).sum()), r * queries_per_round)
    writer.flush()

  def close(self) -> None:
    for writer in self._writers.values():
      writer.close()
    self._writers = {}
