r"""Does a round's learning cost follow the buffer's capacity? Replay by index, every row, all rows.

  python -m benchmarks.replay --out=/tmp/replay.json
  python -m benchmarks.replay --config=tiny --rounds=4,16 --repeats=2   # smoke

A run's buffer is allocated at its whole capacity (rounds x prompts per round) before the first
round, so anything a learning step does per row of capacity makes a long run slower per round
than a short one. For each capacity (`--rounds`, the run lengths) this times one round's
`agent.learn` (`finetune.steps_per_round` joint steps, one seed, a buffer full of random choices:
`benchmarks.common.JointUpdate`) two ways, interleaved in every repeat, median of `--repeats`:

* `index`: the library's replay (`lmrl.buffer.sample_rows`): each row drawn as one integer below
  the number of valid rows, a cost that does not depend on the capacity;
* `every row`: the draw it replaced: a categorical over every row of the buffer
  (`jax.random.categorical(key, logits_H, shape=(batch,))`, batch x capacity Gumbel draws a step);
* `all`: the exact full-buffer gradient (`finetune.rows='all'`): each step builds every member's
  table over every prompt and looks up every row of the buffer (the lookup and the loss span the
  capacity, the table does not).

Prints a table (ms per round, and each capacity's time over the shortest run's) and the ratios
every-row / index and all / index per capacity, and writes JSON to `--out`.
"""

import contextlib
import statistics

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import common
from lmrl import buffer as buffer_lib
from lmrl import flags as lmrl_flags

_CONFIG = lmrl_flags.define_config_flag('default')
_ROUNDS = flags.DEFINE_list('rounds', ['40', '160', '320'],
                            'Run lengths in rounds: capacity = rounds x prompts per round.')
_REPEATS = flags.DEFINE_integer('repeats', 7, 'Timed calls of each way (median).', lower_bound=1)
_OUT = flags.DEFINE_string('out', None, 'Where to write the JSON of every number.')


def every_row_sample_rows(key, buffer: buffer_lib.ChoiceBuffer, num: int, recent: bool = False):
  """The replaced draw: a categorical over every row (uniform replay only)."""
  assert not recent, 'the benchmark times uniform replay'
  logits_H = jnp.where(buffer.valid_H, 0.0, -jnp.inf)
  return jax.random.categorical(key, logits_H, shape=(num,)).astype(jnp.int32)


@contextlib.contextmanager
def _draw(way: str):
  """`lmrl.buffer.sample_rows` as `way` draws it, while tracing `learn`."""
  library = buffer_lib.sample_rows
  if way == 'every row':
    buffer_lib.sample_rows = every_row_sample_rows
  try:
    yield
  finally:
    buffer_lib.sample_rows = library


def main(argv):
  del argv
  config = _CONFIG.value
  config.finetune.rows = 'uniform'
  common.validate_or_exit(config)
  ways = ('index', 'every row', 'all')
  rows = []
  for rounds in [int(r) for r in _ROUNDS.value]:
    config.experiment.rounds = rounds
    runs = {}
    for way in ways:
      config.finetune.rows = 'all' if way == 'all' else 'uniform'
      with _draw(way):
        runs[way] = common.JointUpdate(config)
        runs[way].learn = runs[way].learn.lower(*runs[way].args()).compile()  # Traced here.
    seconds = {way: [] for way in ways}
    for _ in range(_REPEATS.value):
      for way in ways:
        seconds[way].append(runs[way].time())
    median = {way: statistics.median(s) for way, s in seconds.items()}
    rows.append({'rounds': rounds, 'capacity': rounds * config.experiment.prompts_per_round,
                 **{f'{way} ms': 1e3 * m for way, m in median.items()}})
  config.finetune.rows = 'uniform'
  print(f'one round of learning ({config.finetune.steps_per_round} joint steps of '
        f'{config.finetune.batch_size} rows, or of every row for all; one seed), median of '
        f'{_REPEATS.value}:')
  print(f'  {"rounds":>6} {"capacity":>9} {"index ms":>9} {"x shortest":>10} '
        f'{"every row ms":>13} {"x shortest":>10} {"all ms":>9} {"x shortest":>10} '
        f'{"every row / index":>18} {"all / index":>12}')
  first = rows[0]
  for row in rows:
    for way in ways:
      row[f'{way} x shortest'] = row[f'{way} ms'] / first[f'{way} ms']
    for way in ways[1:]:
      row[f'{way} / index'] = row[f'{way} ms'] / row['index ms']
    print(f'  {row["rounds"]:6d} {row["capacity"]:9d} {row["index ms"]:9.1f} '
          f'{row["index x shortest"]:10.2f} {row["every row ms"]:13.1f} '
          f'{row["every row x shortest"]:10.2f} {row["all ms"]:9.1f} '
          f'{row["all x shortest"]:10.2f} {row["every row / index"]:18.2f} '
          f'{row["all / index"]:12.2f}')
  out = {'machine': common.machine(), 'config': config.to_json(), 'rows': rows}
  print(f'load average (1, 5, 15 min): {out["machine"]["load_average"]}')
  if _OUT.value:
    common.write_out(_OUT.value, out)


if __name__ == '__main__':
  app.run(main, flags_parser=lmrl_flags.parse_flags)
