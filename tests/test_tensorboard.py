"""TensorBoard event files (tensorboardX installed: the test extra has it) of the session's tiny run."""

import glob
import os
import struct

import numpy as np
import pytest

import conftest
from lmrl import rows as rows_lib

event_pb2 = pytest.importorskip('tensorboardX.proto.event_pb2')


def _scalars(run_dir: str) -> dict[str, dict[int, float]]:
  """{tag: {step: value}} of every event file in `run_dir` (TFRecord: length, crc, data, crc)."""
  out = {}
  for path in sorted(glob.glob(os.path.join(run_dir, 'events.out.tfevents.*'))):
    with open(path, 'rb') as f:
      data = f.read()
    at = 0
    while at < len(data):
      (length,) = struct.unpack('<Q', data[at:at + 8])
      event = event_pb2.Event.FromString(data[at + 12:at + 12 + length])
      at += 12 + length + 4
      for value in event.summary.value:
        out.setdefault(value.tag, {})[event.step] = value.simple_value
  return out


def test_event_files_hold_each_strategys_mean_over_seeds_at_every_evaluated_round(tiny_run):
  rows = rows_lib.read_rows(os.path.join(tiny_run, 'results.csv'))
  for strategy in conftest.TINY_RUN_STRATEGIES:
    scalars = _scalars(os.path.join(tiny_run, 'tensorboard', f'joint_{strategy}'))
    mine = [r for r in rows if r['strategy'] == strategy]
    steps = sorted({int(r['queries']) for r in mine})
    assert sorted(scalars['kl']) == steps  # Round 0 (the pre-trained LM) included.
    for step in steps:
      expected = np.mean([r['kl'] for r in mine if r['queries'] == step])
      np.testing.assert_allclose(scalars['kl'][step], expected, rtol=1e-5)
    assert {'tv', 'spread', 'coverage_g0', 'coverage_g1', 'failed_seeds'} <= set(scalars)
