r"""Does epig's score tell the tuples of its pool apart? (a diagnostic, not a benchmark)

  python experiments/analysis/epig_diagnostic.py WORKDIR STRATEGY [QUERIES]

Restores the last checkpoint of `WORKDIR/checkpoints/joint_STRATEGY` (a finished or interrupted
run of `python -m experiments.explore --workdir=WORKDIR` or of a study's variant, one world or
several, with the config it saved; `STRATEGY` any whose agent builds epig's inputs, e.g. `epig` or
`epig_random`). For every lane, before any choice and at that checkpoint, it draws QUERIES prompts
(default 16) as a round draws them, builds epig's candidates for them (`strategies.
epig_candidates`: the members' exact tables and the pool of C responses) and, for every query
alone (the members weighted alike, as for a round's first query), scores every showable K-tuple
of the pool by `I(Y; C)` with Y over the prompt's every response (exact) and as the run estimates
it (`experiment.epig_samples` draws per member; exact when 0). Printed, means over queries and
then lanes (± s.e. over lanes):

  I(m; Y)             the posterior's predicted KL on the prompt: what a ranking could resolve;
  best I / I(m; Y)    the share of it the pool's best tuple is expected to resolve;
  random / best       the mean exact `I` of a showable tuple over the best's: what a uniformly
                      random tuple of the same pool (`epig_random`'s query) gets;
  picked / best       the exact `I` of the tuple the run's estimate ranks first over the best's:
                      what epig's first query gets (the estimate's noise included);
  within 90%          the share of showable tuples whose exact `I` is >= 90% of the best's;
  estimate error      mean |estimated - exact| over mean exact `I`, over the showable tuples.

If a random tuple of the pool already gets most of the best tuple's information, or the estimate
cannot rank the tuples it must choose among, the score cannot do better than its pool: that is
what a control that draws the tuple at random (`epig_random`) would show.

Then the round as the run selects it (`epig.select_queries` over `experiment.prompts_per_round`
prompts, the run's estimate, tuple search and `epig_batch`): the share of queries whose score
given the simulated outcomes of the queries before them (`I(Y; C_b | C_1..C_b-1)`) is below 1%
of the round's first query's, and per block of the round (query 1, 2-4, 5-16, 17-64, ...): that
score over the first's; the chosen tuple's score alone (the members weighted alike, the run's
targets) over the best tuple's alone; and a random showable tuple's alone over the best's. With
M members a few rankings can all but identify the member in each simulated history; if the
queries after that are no better alone than a random tuple of the pool, the round asks what its
random-tuple control asks.
"""

import sys

import jax
import jax.numpy as jnp
import numpy as np

from lmrl import epig as epig_lib
from lmrl import errors
from lmrl import loop as loop_lib
from lmrl import runner
from lmrl import strategies
from lmrl import world as world_lib

COLUMNS = ('I(m; Y)', 'best I / I(m; Y)', 'random / best', 'picked / best', 'within 90%',
           'estimate error')


def query_statistics(key, log_u_MxC, table_MxN, tuples_UxK, showable_U, full_ranking: bool,
                     samples_per_member: int) -> jax.Array:
  """`COLUMNS` for one query alone (uniform member weights), float32[6]."""
  M = table_MxN.shape[0]
  log_choice_MxUxF = epig_lib.outcome_log_probs(log_u_MxC[:, tuples_UxK], full_ranking)
  exact_U = epig_lib.information(log_choice_MxUxF, epig_lib.exact_targets(table_MxN[:, None]))
  if samples_per_member:
    estimate_U = epig_lib.information(log_choice_MxUxF, epig_lib.sampled_targets(
        key, table_MxN[:, None], samples_per_member))
  else:
    estimate_U = exact_U
  best = jnp.max(jnp.where(showable_U, exact_U, -jnp.inf))
  count = jnp.sum(showable_U)
  random = jnp.sum(jnp.where(showable_U, exact_U, 0.0)) / count
  picked = exact_U[jnp.argmax(jnp.where(showable_U, estimate_U, -jnp.inf))]
  within = jnp.sum(showable_U & (exact_U >= 0.9 * best)) / count
  error = (jnp.sum(jnp.where(showable_U, jnp.abs(estimate_U - exact_U), 0.0))
           / jnp.maximum(jnp.sum(jnp.where(showable_U, exact_U, 0.0)), 1e-30))
  log_bar_N = jax.nn.logsumexp(table_MxN, axis=0) - jnp.log(M)
  predicted = jnp.mean(jnp.sum(jnp.exp(table_MxN) * (table_MxN - log_bar_N), axis=-1))
  best_safe = jnp.maximum(best, 1e-30)
  return jnp.stack([predicted, best / jnp.maximum(predicted, 1e-30), random / best_safe, picked / best_safe, within,
                    error])


def lane_statistics(config, spec, agent, agent_state, hparams, world, key, queries: int):
  """`COLUMNS` of each of one lane's `queries` prompts, float32[Q, 6]."""
  e = config.experiment
  p = loop_lib.strategy_params(config, hparams)
  key_prompts, key_pool, key_targets = jax.random.split(key, 3)
  prompts_QxLx = world_lib.prompt_tokens(world_lib.sample_prompts(key_prompts, world, queries),
                                         spec)
  query_MxQxN, _, pool_QxC, tuples_UxK, showable_QxU = strategies.epig_candidates(
      key_pool, agent.explorer(agent_state, hparams), prompts_QxLx, p, population=False)
  log_u_QxMxC = strategies.pool_utilities(query_MxQxN, pool_QxC)

  def one(inputs):
    key_q, log_u_MxC, table_MxN, showable_U = inputs
    return query_statistics(key_q, log_u_MxC, table_MxN, tuples_UxK, showable_U,
                            config.world.full_ranking, e.epig_samples)

  return jax.lax.map(one, (jax.random.split(key_targets, queries), log_u_QxMxC,
                           jnp.swapaxes(query_MxQxN, 0, 1), showable_QxU))


def round_scores(config, spec, agent, agent_state, hparams, world, key) -> jax.Array:
  """A round's queries as the run selects them (`strategies.epig`'s candidates, targets, search
  and batch), float32[B, 3]: each query's score given the earlier ones (nats); and, scored alone
  (the members weighted alike, the same targets), its chosen tuple's score and the mean score of
  a showable tuple, each over the best tuple's."""
  e = config.experiment
  p = loop_lib.strategy_params(config, hparams)
  full_ranking = config.world.full_ranking
  key_prompts, key_pool, key_select = jax.random.split(key, 3)
  prompts_BxLx = world_lib.prompt_tokens(
      world_lib.sample_prompts(key_prompts, world, e.prompts_per_round), spec)
  query_MxBxN, _, pool_BxC, tuples_UxK, showable_BxU = strategies.epig_candidates(
      key_pool, agent.explorer(agent_state, hparams), prompts_BxLx, p, population=False)
  chosen_BxK, score_B = strategies.epig_select(key_select, query_MxBxN, None, pool_BxC,
                                               tuples_UxK, showable_BxU, prompts_BxLx, p)
  log_u_BxMxC = strategies.pool_utilities(query_MxBxN, pool_BxC)
  targets_fn = strategies.epig_targets(query_MxBxN, None, p)
  key_targets, _ = jax.random.split(key_select)  # As `select_queries` draws each query's targets.

  def alone(b):
    targets = targets_fn(jax.random.fold_in(key_targets, b), b)
    info_U = epig_lib.information(
        epig_lib.outcome_log_probs(log_u_BxMxC[b][:, tuples_UxK], full_ranking), targets)
    picked = epig_lib.information(epig_lib.outcome_log_probs(
        log_u_BxMxC[b][:, chosen_BxK[b]][:, None], full_ranking), targets)[0]
    best = jnp.maximum(jnp.max(jnp.where(showable_BxU[b], info_U, -jnp.inf)), 1e-30)
    mean = jnp.sum(jnp.where(showable_BxU[b], info_U, 0.0)) / jnp.sum(showable_BxU[b])
    return jnp.stack([picked / best, mean / best])

  return jnp.concatenate([score_B[:, None], jax.lax.map(alone, jnp.arange(score_B.shape[0]))],
                         axis=1)


def blocks(num: int) -> list[tuple[int, int]]:
  """[1, 1], [2, 4], [5, 16], [17, 64], ... (1-based, inclusive) up to `num`."""
  out, start = [(1, 1)], 2
  while start <= num:
    out.append((start, min(num, 4 * start - 4)))
    start = 4 * start - 3
  return out


def main(argv):
  if len(argv) not in (3, 4):
    raise SystemExit(__doc__.split('\n\n')[1])
  workdir, strategy = argv[1], argv[2]
  queries = int(argv[3]) if len(argv) == 4 else 16
  try:
    run = runner.restore_joint_sweep(workdir, strategy, many_worlds=True)
  except errors.UserError as error:
    raise SystemExit(f'error: {error}') from None
  config, spec, agent = run.config, run.spec, run.agent
  e = config.experiment
  if e.epig_target != 'prompt' or not e.epig_tables:
    raise SystemExit("error: epig_diagnostic reads runs with epig_target='prompt' and "
                     f'epig_tables=True (this one: {e.epig_target!r}, {e.epig_tables})')
  lanes = run.keys_L.shape[0]
  world_axis = None if run.world_L is None else 0

  @jax.jit
  def one_lane(agent_state, hparams, world, key):
    return lane_statistics(config, spec, agent, agent_state, hparams, world, key, queries)

  @jax.jit
  def one_round(agent_state, hparams, world, key):
    return round_scores(config, spec, agent, agent_state, hparams, world, key)

  take = lambda tree, l: jax.tree_util.tree_map(lambda x: x[l], tree)
  print(f'{workdir} ({strategy}): {lanes} lanes, {queries} queries each, pool of '
        f'{e.pool_size}, K = {e.responses_per_prompt} '
        f'({"full rankings" if config.world.full_ranking else "first choices"}), '
        f'{len(strategies.tuples(e.pool_size, e.responses_per_prompt))} tuples, the estimate '
        f'from {e.epig_samples or "exact"} draws per member')
  for label, state in [('before any choice', run.fresh),
                       (f'after {run.rankings} rankings', run.state)]:
    per_lane = []
    for l in range(lanes):
      world = run.world if world_axis is None else take(run.world, l)
      per_lane.append(np.asarray(one_lane(take(state.agent, l), take(state.hparams, l), world,
                                          jax.random.fold_in(jax.random.key(11), l))).mean(0))
    stats_Lx6 = np.stack(per_lane)
    mean = stats_Lx6.mean(0)
    se = (stats_Lx6.std(0, ddof=1) / np.sqrt(lanes) if lanes > 1 else np.zeros(len(COLUMNS)))
    print(f'  {label}:')
    for name, m, s in zip(COLUMNS, mean, se):
      print(f'    {name:18s} {m:.4f} +/- {s:.4f}')
    if run.world_L is not None:
      print('    random / best, picked / best per lane (world seed): ' + ', '.join(
          f'{r:.2f}, {q:.2f} ({config.world.seed + run.world_L[l]})'
          for l, (r, q) in enumerate(stats_Lx6[:, 2:4])))
    round_LxBx3 = np.stack([np.asarray(one_round(
        take(state.agent, l), take(state.hparams, l),
        run.world if world_axis is None else take(run.world, l),
        jax.random.fold_in(jax.random.key(12), l))) for l in range(lanes)])
    score_LxB = round_LxBx3[:, :, 0]
    share_LxB = score_LxB / np.maximum(score_LxB[:, :1], 1e-30)
    span = lambda a, b: f'{a}-{b}' if a < b else f'{a}'
    print(f'    a round of {score_LxB.shape[1]} queries as the run selects them '
          f'(epig_batch {e.epig_batch!r}): the first scores {score_LxB[:, 0].mean():.4f} nats; '
          f'below 1% of it: {np.mean(share_LxB < 0.01):.0%} of the queries')
    for a, b in blocks(score_LxB.shape[1]):
      print(f'      queries {span(a, b):6s} score given the earlier ones / the first '
            f'{share_LxB[:, a - 1:b].mean():.3f}; alone: chosen / best '
            f'{round_LxBx3[:, a - 1:b, 1].mean():.2f}, random / best '
            f'{round_LxBx3[:, a - 1:b, 2].mean():.2f}')


if __name__ == '__main__':
  main(sys.argv)
