"""Long-format rows of a run's metrics, the one shape of `results.csv` and `metrics.jsonl`.

A row is one (agent, strategy, seed, evaluated round) with the columns
`agent, strategy, [swept hyper-parameters,] world, seed, round, queries, kl, tv, choice_loss, spread,
coverage_g<g>, ...` (a hyper-parameter sweep names a grid point's strategy
`passive[learning_rate=0.001]` and adds a column per swept name: `lmrl.hyperparams`),
`target_coverage_g<g>` (what `p*` gives group g's favourites) and `failed` (1 once the seed's
loss or metrics have been NaN or inf). Round 0 is the pre-trained LM; `queries` is the number of
human choices made by that round. `seed` is the lane within its grid point; with many worlds
(`world.num_worlds` = W > 1) lanes `w*S .. w*S + S - 1` are world `w`'s S seeds, and `world` says
which (0 with one world).

`metric_rows` builds them; `results.csv` holds them seed by seed (`lmrl.files.write_csv`) and
`metrics.jsonl` round by round (`round_major=True`, `lmrl.files.append_jsonl`: strict JSON, a
non-finite value as null with a `nonfinite` field saying what it was). `read_rows`, `curves` and
`failed_seeds` read them back. `results.csv` is the record: after a kill, `metrics.jsonl` may
hold a resumed chunk's rows twice. `shown_queries` is what each seed was shown and how it was
ranked.
"""

import csv
import math

import numpy as np

from lmrl import world as world_lib

BASE_COLUMNS = ('agent', 'strategy', 'world', 'seed', 'round', 'queries')


def lane_columns(hparams: dict, world_S: np.ndarray | None) -> dict:
  """`metric_rows`' columns: a grid point's hyper-parameters, then each lane's world (None: the
  one world, 0)."""
  return dict(hparams) if world_S is None else {**hparams, 'world': np.asarray(world_S)}


def metric_rows(agent: str, strategy: str, metrics: dict[str, np.ndarray],
                target_coverage_G: np.ndarray, queries_per_round: int,
                rounds: list[int], columns: dict | None = None, *,
                round_major: bool = False) -> list[dict]:
  """Rows for every seed and each of `rounds` (the evaluated ones) of `metrics` ([S, R, ...]).

  `columns` come before the seed: a value shared by every row (a grid point's hyper-parameters,
  `lmrl.hyperparams`) or an array of one per lane (`world`: each lane's world; absent: 0). Rows
  go seed by seed (every round of seed 0 first), or with `round_major` round by round.
  `target_coverage_G` is [G], or [S, G] per lane.
  """
  target_SxG = np.asarray(target_coverage_G, float)
  num_lanes = np.asarray(metrics['kl']).shape[0]
  target_SxG = np.broadcast_to(target_SxG, (num_lanes, target_SxG.shape[-1]))
  columns = {**(columns or {})}
  columns.setdefault('world', 0)
  lane_value = lambda v, s: v[s].item() if isinstance(v, np.ndarray) and v.ndim == 1 else v

  def row(s: int, r: int) -> dict:
    out = {'agent': agent, 'strategy': strategy,
           **{name: lane_value(v, s) for name, v in columns.items()},
           'seed': s, 'round': r, 'queries': r * queries_per_round}
    for name, value in metrics.items():
      value = np.asarray(value[s, r])
      if name == 'failed':  # 1 from the round the seed failed on.
        out[name] = int(value > 0)
      elif value.ndim == 0:
        out[name] = float(value)
      else:
        for g, v in enumerate(value):
          out[f'{name.removesuffix("_G")}_g{g}'] = float(v)
    out.update({f'target_coverage_g{g}': float(v) for g, v in enumerate(target_SxG[s])})
    return out

  seeds = range(num_lanes)
  if round_major:
    return [row(s, r) for r in rounds for s in seeds]
  return [row(s, r) for s in seeds for r in rounds]


def read_rows(path: str) -> list[dict]:
  """Rows of a results CSV, numbers parsed."""
  with open(path, newline='') as f:
    rows = list(csv.DictReader(f))
  for row in rows:
    for k, v in row.items():
      if k not in ('agent', 'strategy'):
        row[k] = float(v) if v not in ('', None) else float('nan')
  return rows


def failed_seeds(rows: list[dict]) -> dict[tuple[str, str], list[int]]:
  """{(agent, strategy): seeds marked failed, or with a non-finite KL, at any round}."""
  out = {}
  for r in rows:
    bad = r.get('failed', 0) > 0 or not math.isfinite(r['kl'])
    seeds = out.setdefault((r['agent'], r['strategy']), set())
    if bad:
      seeds.add(int(r['seed']))
  return {k: sorted(v) for k, v in out.items()}


def curves(rows: list[dict], metric: str, exclude_failed: bool = True
           ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
  """{(agent, strategy): (queries float[R], values float[S, R])} from long-format rows.

  With `exclude_failed`, the seeds of `failed_seeds` are left out.
  """
  failed = failed_seeds(rows) if exclude_failed else {}
  out = {}
  for key in sorted({(r['agent'], r['strategy']) for r in rows}, key=str):
    sub = [r for r in rows if (r['agent'], r['strategy']) == key
           and int(r['seed']) not in failed.get(key, ())]
    if not sub:
      continue
    queries = np.array(sorted({r['queries'] for r in sub}))
    seeds = sorted({r['seed'] for r in sub})
    values = np.full((len(seeds), len(queries)), np.nan)
    for r in sub:
      values[seeds.index(r['seed']), np.searchsorted(queries, r['queries'])] = r[metric]
    out[key] = (queries, values)
  return out


def shown_queries(buffer, favourites_GxPxN: np.ndarray, vocab_size: int,
                  queries_per_round: int) -> dict[str, np.ndarray]:
  """What each seed was shown and how it was ranked, from its final choice buffer.

  `favourites_GxPxN` is the world's (bool[G, P, N]) or, with lanes in several worlds, each lane's
  world's (bool[S, G, P, N]).

  `buffer` is a `ChoiceBuffer` of host arrays with a leading seed axis ([S, H, ...]); row h was
  shown in round h // B + 1. Returns int32 `prompts_SxHxLx`, `responses_SxHxKxLy`,
  `ranking_SxHxK` (positions of the shown responses, best first), `prompt_index_SxH`,
  `response_index_SxHxK` (indices into the world's enumerated prompts and responses),
  `round_H`, bool `valid_SxH`, and `shows_favourite_SxHxG`: whether the shown responses include
  one of group g's favourites for that prompt.
  """
  prompt_SxH = np.asarray(world_lib.sequence_index(buffer.prompts_HxLx, vocab_size))
  response_SxHxK = np.asarray(world_lib.sequence_index(buffer.responses_HxKxLy, vocab_size))
  favourites = np.asarray(favourites_GxPxN)
  if favourites.ndim == 4:  # Per lane, [S, G, P, N]: lanes in several worlds.
    lane_Sx1x1 = np.arange(prompt_SxH.shape[0])[:, None, None]
    favourite_GxSxHxK = np.moveaxis(
        favourites[lane_Sx1x1, :, prompt_SxH[..., None], response_SxHxK], -1, 0)
  else:
    favourite_GxSxHxK = favourites[:, prompt_SxH[..., None], response_SxHxK]
  H = prompt_SxH.shape[1]
  return {'prompts_SxHxLx': np.asarray(buffer.prompts_HxLx, np.int32),
          'responses_SxHxKxLy': np.asarray(buffer.responses_HxKxLy, np.int32),
          'ranking_SxHxK': np.asarray(buffer.ranking_HxK, np.int32),
          'prompt_index_SxH': prompt_SxH, 'response_index_SxHxK': response_SxHxK,
          'round_H': (np.arange(H) // queries_per_round + 1).astype(np.int32),
          'valid_SxH': np.asarray(buffer.valid_H, bool),
          'shows_favourite_SxHxG': np.moveaxis(favourite_GxSxHxK.any(-1), 0, -1)}


def shown_favourites(shown: dict[str, np.ndarray]) -> list[float]:
  """Per group, the fraction of shown queries (all seeds and rounds) with one of its favourites."""
  valid = shown['valid_SxH']
  return [float(x) for x in shown['shows_favourite_SxHxG'][valid].mean(0)]


def to_dataframe(workdir: str):
  """A run directory's `results.csv` as a pandas DataFrame (the `[analysis]` extra), one row
  per agent, strategy, seed and evaluated round.

  `agent` and `strategy` are ordered categoricals in the run's order (the config's strategies,
  then a sweep's grid points), so `groupby` and sorting keep that order rather than the
  alphabet's; `world`, `seed`, `round` and `queries` are integers, `failed` is boolean, every other
  column (metrics, targets, swept hyper-parameters) is float64 (NaN where undefined).
  """
  import pandas as pd  # pylint: disable=g-import-not-at-top  (optional: the [analysis] extra)
  import os  # pylint: disable=g-import-not-at-top
  df = pd.read_csv(os.path.join(workdir, 'results.csv'), keep_default_na=False,
                   na_values=['', 'nan', 'NaN'])
  for col in df.columns:
    if col in ('agent', 'strategy'):
      df[col] = pd.Categorical(df[col].astype(str), categories=list(dict.fromkeys(df[col])),
                               ordered=True)
    elif col in ('world', 'seed', 'round', 'queries'):
      df[col] = df[col].astype('int64')
    elif col == 'failed':
      df[col] = df[col].astype(float) > 0
    else:
      df[col] = pd.to_numeric(df[col]).astype('float64')
  return df
