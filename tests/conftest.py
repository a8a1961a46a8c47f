"""Shared tiny fixtures for the lmrl test suite.

The tiny world has V=3 tokens, one-token prompts and two-token responses (P=3 prompts, N=9
responses per prompt), two groups weighted 0.7/0.3 and uniform prompts; the tiny LM is a
width-16, depth-1, 2-head transformer. Everything expensive (the pre-trained LM) is built once per
session.
"""

import os
import shutil
import tempfile
from typing import Callable, NamedTuple

# XLA's CPU backend without its optimisation passes: the suite's programs are tiny, so compiling
# them dominates its time, and level 0 compiles them in ~0.6x the seconds (tiny run's sweep: 38 s
# -> 22 s on the 2-core CPU) to results equal up to float rounding (a chaotic fit can differ
# further: tests/test_refit.py's stopping rule). Set before jax starts its backend; the binaries
# the tests start inherit it. A caller's own XLA_FLAGS are kept as they are.
os.environ.setdefault('XLA_FLAGS', '--xla_backend_optimization_level=0')

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp
import pytest

import lmrl
from lmrl import buffer as buffer_lib
from lmrl import choices
from lmrl import epistemic
from lmrl import hyperparams as hyperparams_lib
from lmrl import lm as lm_lib
from lmrl import pretraining
from lmrl import update
from lmrl import world as world_lib
from lmrl.configs import tiny

# The binaries' shared pre-trained-LM cache is off in the tests (every run pre-trains, as a
# first run does); tests/test_pretrained_cache.py tests the cache in its own directory.
os.environ['LMRL_PRETRAINED_CACHE'] = ''

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CACHE_DIR = pytest.StashKey[str]()

# Pre-training settings shared by the fixture and test_pretraining.py (one compilation).
PRETRAIN_STEPS = 200
PRETRAIN_BATCH = 64
PRETRAIN_LR = 1e-2
MAJORITY_ONLY = (1.0, 0.0)


def pytest_configure(config):
  config.addinivalue_line('markers', 'slow: takes more than ~20 s on a 2-core CPU.')
  # One persistent compilation cache for the session and the binaries it starts as
  # subprocesses (they inherit the environment): a binary re-running a program the suite has
  # already compiled loads it instead of compiling it again.
  cache_dir = tempfile.mkdtemp(prefix='lmrl-test-jax-cache-')
  config.stash[_CACHE_DIR] = cache_dir
  os.environ['JAX_COMPILATION_CACHE_DIR'] = cache_dir
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  jax.config.update('jax_compilation_cache_dir', cache_dir)
  jax.config.update('jax_persistent_cache_min_compile_time_secs', 0)


def pytest_unconfigure(config):
  shutil.rmtree(config.stash.get(_CACHE_DIR, ''), ignore_errors=True)


def fixture_config():
  """The config the shared world, LM and agents are built from: lmrl/configs/tiny.py with
  uniform prompts (tests/test_pipeline.py pins the world and LM it builds)."""
  config = tiny.get_config()
  config.world.prompt_logit_scale = 0.0
  return config


@pytest.fixture(scope='session')
def spec() -> world_lib.WorldSpec:
  return lmrl.pipeline.build_specs(fixture_config())[0]


@pytest.fixture(scope='session')
def world(spec) -> world_lib.World:
  return lmrl.pipeline.make_world(fixture_config(), spec)


@pytest.fixture(scope='session')
def lm_spec() -> lm_lib.LMSpec:
  return lmrl.pipeline.build_specs(fixture_config())[1]


@pytest.fixture(scope='session')
def all_prompts(spec) -> jax.Array:
  """Every prompt's tokens, int32[P, Lx]."""
  return jnp.asarray(world_lib.all_prompts(spec))


@pytest.fixture(scope='session')
def pretrain_fn(spec, lm_spec):
  """The jitted `pretrain(key, world) -> (params, losses)` on the majority-only corpus."""
  return jax.jit(pretraining.make_pretrain(
      spec, lm_spec, steps=PRETRAIN_STEPS, batch_size=PRETRAIN_BATCH,
      learning_rate=PRETRAIN_LR, corpus_group_mix=MAJORITY_ONLY))


@pytest.fixture(scope='session')
def base_params(pretrain_fn, world):
  """An LM pre-trained on the majority only (seed 1)."""
  params, _ = pretrain_fn(jax.random.key(1), world)
  return params


@pytest.fixture(scope='session')
def exact_fn(spec, lm_spec, all_prompts):
  """Jitted `params -> log p_theta(y|x)`, float32[P, N], of a plain LM."""

  @jax.jit
  def exact(params):
    return lm_lib.exact_log_probs(lambda t: lm_lib.lm_logits(params, t, lm_spec), all_prompts,
                                  spec)

  return exact


@pytest.fixture(scope='session')
def agent_config():
  """`config.agent` of `fixture_config()`, shrunk for tests (call with a kind)."""

  def make(epistemic: str, num_members: int = 3):
    config = fixture_config()
    with config.agent.unlocked():
      config.agent.epistemic = epistemic
      config.agent.num_members = num_members
      config.agent.prior_width = 8
      config.agent.prior_depth = 1
      config.agent.index_dim = 4
      config.agent.epinet_hidden = 16
    return config.agent

  return make


def hparams(**values) -> dict:
  """The traced hyper-parameters (`lmrl.hyperparams`) of the tests' small agents, with `values`
  replacing the shared ones: float32[] by name."""
  shared = dict(hyperparams_lib.values(tiny.get_config()), learning_rate=1e-2, lambda_lm=0.1,
                lambda_l2=1e-4, l2_prior_choices=0.0, prior_scale=1.0)
  return hyperparams_lib.as_arrays({**shared, **values})


class JointAgent(NamedTuple):
  epi: epistemic.EpistemicNet
  state: update.AgentState  # Before any update.
  step: Callable  # jax.jit(update(key, state, buffer, world, hparams)); batch 8, lm 4, K=2.
  hparams: dict  # `hparams()`: what `step` is called with unless a test says otherwise.


# Settings of the shared small agents (tests that reuse `JointAgent.step` must keep buffers of
# capacity SMALL_BUFFER with K=2, so the jitted step never recompiles).
SMALL_BUFFER = 32
SMALL_MEMBERS = 3


@pytest.fixture(scope='session')
def joint_agent(spec, lm_spec, base_params, agent_config):
  """`kind -> JointAgent`: a jitted joint update of a small ensemble/epinet (built once each)."""
  cache = {}

  def get(kind: str) -> JointAgent:
    if kind not in cache:
      epi = epistemic.make_epistemic_lm(agent_config(kind, SMALL_MEMBERS), lm_spec)
      init = jax.jit(lambda key, base: update.init_agent_state(key, epi, base, prior_scale=1.0))
      step = jax.jit(update.make_joint_update(epi, spec, full_ranking=False,
                                              rows=update.FitRows(batch_size=8),
                                              lm_term=update.NextTokenTerm(4, MAJORITY_ONLY)))
      cache[kind] = JointAgent(epi, init(jax.random.key(2), base_params), step, hparams())
    return cache[kind]

  return get


@pytest.fixture(scope='session')
def make_choice_buffer(spec):
  """`(key, world, n, num_shown, num_members, ...) -> ChoiceBuffer` of simulated choices.

  Prompts are uniform over all prompts (or fixed to `prompt_index`), each shown response is drawn
  uniformly from `response_pool` (default: every response), and the ranking is simulated by the
  world's Luce model. `capacity` >= n lets buffers of different sizes share one shape.
  """
  responses_NxLy = jnp.asarray(world_lib.all_responses(spec))

  def make(key, world, n, num_shown, num_members, *, bootstrap='exponential', capacity=None,
           prompt_index=None, response_pool=None):
    key_x, key_y, key_choice, key_boot = jax.random.split(key, 4)
    if prompt_index is None:
      x_n = jax.random.randint(key_x, (n,), 0, spec.num_prompts)
    else:
      x_n = jnp.full((n,), prompt_index, jnp.int32)
    pool = jnp.arange(spec.num_responses) if response_pool is None else jnp.asarray(
        response_pool)
    y_index_nxK = pool[jax.random.randint(key_y, (n, num_shown), 0, pool.shape[0])]
    y_nxKxLy = responses_NxLy[y_index_nxK]
    ranking_nxK = choices.simulate_rankings(key_choice, world, spec, x_n, y_nxKxLy)
    buffer = buffer_lib.empty(capacity or n, spec.prompt_length, num_shown,
                              spec.response_length, num_members)
    return buffer_lib.append(buffer, world_lib.prompt_tokens(x_n, spec), y_nxKxLy, ranking_nxK,
                             buffer_lib.bootstrap_weights(key_boot, (n, num_members), bootstrap))

  return make


# ----------------------------------------------------------------------------- long choice fits

# Settings of the long fits shared by the inclusiveness and uncertainty tests: the default
# regularisers and prior scale of lmrl/configs/default.py, a higher learning rate so a few
# hundred steps suffice.
FIT_MEMBERS = 4
FIT_STEPS = 300
FIT_BATCH = 32
FIT_LR = 1e-2
FIT_CAPACITY = 4096
UNCERTAINTY_SEEDS = 3
UNCERTAINTY_SIZES = (16, 1024)  # Choices in the small and the large buffer.
UNCERTAINTY_POOL = tuple(range(5))  # Responses ever shown for prompt 0 (5..8 never are).


class ChoiceFits(NamedTuple):
  """Exact member distributions log p_m(y|x), float32[lanes, M, P, N], before and after fitting."""
  initial: jax.Array
  fitted: jax.Array
  lanes: dict  # name -> lane index.


@pytest.fixture(scope='session')
def choice_fits(spec, lm_spec, world, base_params, agent_config, make_choice_buffer,
                all_prompts):
  """`kind -> ChoiceFits`: FIT_STEPS joint steps for several buffers/seeds, all in one vmap.

  Lanes 'small_s'/'large_s' (s < UNCERTAINTY_SEEDS): choices for prompt 0 among
  UNCERTAINTY_POOL only, 16 or 1024 of them, agent seed s. For the ensemble, lane 'inclusive':
  4096 choices, uniform prompts and uniform responses. Every lane inits its agent from its own
  key and fits it with `jax.vmap` over lanes (init + update are vmapped over seeds).
  """
  cache = {}

  def get(kind: str) -> ChoiceFits:
    if kind in cache:
      return cache[kind]
    epi = epistemic.make_epistemic_lm(agent_config(kind, FIT_MEMBERS), lm_spec)
    step = update.make_joint_update(epi, spec, full_ranking=False,
                                    rows=update.FitRows(batch_size=FIT_BATCH),
                                    lm_term=update.NextTokenTerm(16, MAJORITY_ONLY))
    lanes, keys, buffers = {}, [], []

    def add(name, key, buffer):
      lanes[name] = len(keys)
      keys.append(key)
      buffers.append(buffer)

    for n, size in zip(('small', 'large'), UNCERTAINTY_SIZES):
      for s in range(UNCERTAINTY_SEEDS):
        add(f'{n}_{s}', jax.random.key(100 + s), make_choice_buffer(
            jax.random.key(200 + s), world, size, 2, FIT_MEMBERS, capacity=FIT_CAPACITY,
            prompt_index=0, response_pool=UNCERTAINTY_POOL))
    if kind == 'ensemble':
      add('inclusive', jax.random.key(300), make_choice_buffer(
          jax.random.key(400), world, FIT_CAPACITY, 2, FIT_MEMBERS))

    def members(params):
      return epistemic.member_exact_log_probs(epi, params, all_prompts, spec)

    def init_and_fit(key, buffer):
      key_init, key_fit = jax.random.split(key)
      state = update.init_agent_state(key_init, epi, base_params, prior_scale=1.0)

      def body(state, i):
        return step(jax.random.fold_in(key_fit, i), state, buffer, world,
                    hparams(learning_rate=FIT_LR))[0], None

      fitted = jax.lax.scan(body, state, jnp.arange(FIT_STEPS))[0]
      return members(state.params), members(fitted.params)

    stacked = jax.tree_util.tree_map(lambda *x: jnp.stack(x), *buffers)
    initial, fitted = jax.jit(jax.vmap(init_and_fit))(jnp.stack(keys), stacked)
    cache[kind] = ChoiceFits(initial, fitted, lanes)
    return cache[kind]

  return get


TINY_RUN_STRATEGIES = ('passive', 'infomax')
# The same strategies as a binary's override flag.
TINY_RUN_STRATEGIES_FLAG = ('--config.experiment.strategies=('
                            + ','.join(f"'{s}'" for s in TINY_RUN_STRATEGIES) + ')')


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  """The work directory of one uninterrupted run of the library entry point `lmrl.run` (tiny
  config, passive + infomax), as a notebook would call it."""
  workdir = str(tmp_path_factory.mktemp('uninterrupted') / 'run')
  config = tiny.get_config()
  config.experiment.strategies = TINY_RUN_STRATEGIES
  lines = []
  summary = lmrl.run(config, workdir, log=lines.append)
  assert set(summary['joint']) == set(TINY_RUN_STRATEGIES)
  assert any('compiled in' in line for line in lines)  # One compilation line, with seconds.
  assert sum('compiling the sweep' in line for line in lines) == 1
  assert any('ETA' in line and 'strategy 2/2' in line for line in lines)
  return workdir


@pytest.fixture(scope='session')
def tiny_lr_sweep(tmp_path_factory):
  """(workdir, log lines, summary) of `tiny_run`'s strategies at two learning rates x 1 seed (two
  lanes: the tiny run's shapes), run once: the sweep test_hyperparams checks and the notebook's
  sweep resumes."""
  workdir = str(tmp_path_factory.mktemp('lr_sweep') / 'run')
  config = tiny.get_config()
  config.experiment.strategies = TINY_RUN_STRATEGIES
  config.experiment.num_seeds = 1
  config.sweep.learning_rate = (1e-3, 1e-2)  # 1e-3 is the tiny config's own value.
  lines = []
  summary = lmrl.run(config, workdir, log=lines.append)
  return workdir, lines, summary


# ----------------------------------------------------------------------------- one round, lanes

# The experiment of `strategy_round`: every strategy, none at its index in the default config's
# order; ROUND_PROMPTS prompts in its one round; ROUND_LANES lanes (seeds or grid points).
ROUND_STRATEGIES = ('thompson', 'boltzmann', 'infomax', 'uniform', 'passive')
ROUND_PROMPTS = 600
ROUND_LANES = 4


class StrategyRound(NamedTuple):
  config: object  # `fixture_config()`, joint agent, ROUND_STRATEGIES, 1 round of ROUND_PROMPTS.
  spec: world_lib.WorldSpec
  lm_spec: lm_lib.LMSpec
  experiment: object  # `lmrl.loop.make_experiment(config, ...)` of the joint agent.
  init: Callable  # (keys_L, hparams_L) -> RunState [L]: `lmrl.sweep.make_sweep(...).init`.
  round: Callable  # (keys_L, state_L, strategy) -> the choice buffer [L] after round 0.


@pytest.fixture(scope='session')
def strategy_round(world, base_params) -> StrategyRound:
  """Round 0 of the compiled experiment (`one_round`, strategy a traced index into its
  `lax.switch`) on ROUND_LANES lanes, each with its own key and traced hyper-parameters, as a
  sweep lays them out: one compilation of the sweep's init and one of the round serve every
  test (only the round's buffer is returned, so its learning and evaluation are compiled away)."""
  from lmrl import loop as loop_lib  # pylint: disable=g-import-not-at-top
  from lmrl import sweep as sweep_lib  # pylint: disable=g-import-not-at-top
  config = fixture_config()
  config.agent.kind = 'joint'
  config.experiment.strategies = ROUND_STRATEGIES
  config.experiment.prompts_per_round = ROUND_PROMPTS
  config.experiment.rounds = 1
  config.experiment.eval_every = 1
  spec, lm_spec = lmrl.pipeline.build_specs(config)
  exp = loop_lib.make_experiment(config, spec,
                                       lmrl.pipeline.make_agent(config, spec, lm_spec))
  sweeper = sweep_lib.make_sweep(exp)

  def init(keys_L, hparams_L):
    return sweeper.init(keys_L, base_params, world, hparams_L)

  @jax.jit
  def round_(keys_L, state_L, strategy):
    def one(key, state):
      return exp.one_round(key, state, world, 0, strategy)[0].buffer
    return jax.vmap(one)(keys_L, state_L)

  return StrategyRound(config, spec, lm_spec, exp, init, round_)
