"""Epistemic LMs: a bundle of pure functions that say what the agent does not know.

An `EpistemicLM` is a NamedTuple of functions (in the manner of enn's `(init, apply, indexer)`):

  init(key, base_params, prior_scale) -> EpistemicParams
  logits(params, index, tokens_BxL) -> logits_BxLxV    the LM for one epistemic index
  sample_indices(key, num) -> index_num                 random indices, distinct where possible
  train_indices(key, params) -> index_M                 the M indices each update step fits

`EpistemicParams` keeps every frozen part as data: `prior` (the randomized prior network's
parameters), `anchor` (theta_0 of the L2 term), `prior_scale` (beta) and `mixture_index_M` (the
indices whose uniform mixture `p_bar = mean_m p_m` is the deployed LM). Only `train` is ever
given to the optimiser, so the frozen parts cannot move.

Two implementations:

* `make_ensemble`: `M` LMs; every `train` leaf has a leading member axis. Member `m` outputs
  `f(theta_m) + beta * f_prior(phi_m)` with its own random prior transformer `phi_m`. Every
  member starts from the pre-trained parameters; the priors make them differ. Bootstrap weights
  (one per example and member) make them see different data.
* `make_epinet`: the pre-trained base LM plus an MLP on the base's (stop-gradient) last hidden
  features and a Gaussian index `z`, whose output matrix is contracted with `z` and added to the
  logits, plus a frozen prior MLP of the same form scaled by beta (Osband et al., 2023).
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from lmrl import lm as lm_lib


class EpistemicParams(NamedTuple):
  train: Any  # Optimised parameters.
  prior: Any  # Frozen randomized-prior parameters.
  anchor: Any  # Frozen copy of the initial `train` (theta_0 of the L2 term).
  prior_scale: jax.Array  # beta, float32[] (traced: sweepable).
  mixture_index_M: jax.Array  # The M indices whose mixture is the deployed LM.


class EpistemicLM(NamedTuple):
  init: Callable[..., EpistemicParams]
  logits: Callable[[EpistemicParams, jax.Array, jax.Array], jax.Array]
  sample_indices: Callable[[jax.Array, int], jax.Array]
  train_indices: Callable[[jax.Array, EpistemicParams], jax.Array]
  num_members: int  # M.
  train_copies: int  # How many LM copies `train` holds (M for the ensemble): scales the L2 term.
  uses_bootstrap: bool  # Whether the update weights examples per member.


def _sum_of_squares(tree) -> jax.Array:
  return sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree_util.tree_leaves(tree))


def anchor_penalty(epi: EpistemicLM, params: EpistemicParams, train) -> jax.Array:
  """`||theta - theta_0||^2` per LM copy, float32[]."""
  diff = jax.tree_util.tree_map(lambda a, b: a - b, train, params.anchor)
  return _sum_of_squares(diff) / epi.train_copies


def index_logits_fn(epi: EpistemicLM, params: EpistemicParams, index) -> lm_lib.LogitsFn:
  """The LM of one epistemic index as a `tokens -> logits` function."""
  return lambda tokens_BxL: epi.logits(params, index, tokens_BxL)


def member_exact_log_probs(epi: EpistemicLM, params: EpistemicParams, prompts_PxLx, spec
                           ) -> jax.Array:
  """Exact `log p_m(y|x)` of every mixture member, float32[M, P, N]."""
  return jax.vmap(lambda i: lm_lib.exact_log_probs(index_logits_fn(epi, params, i), prompts_PxLx,
                                                   spec))(params.mixture_index_M)


# ----------------------------------------------------------------------------- ensemble


def make_ensemble(lm_spec: lm_lib.LMSpec, *, num_members: int, prior_width: int,
                  prior_depth: int, bootstrap: bool = True) -> EpistemicLM:
  """An ensemble of `num_members` LMs with additive randomized priors."""
  prior_spec = lm_spec._replace(width=prior_width, depth=prior_depth,
                                num_heads=min(lm_spec.num_heads, prior_width))

  def init(key, base_params, prior_scale):
    keys_M = jax.random.split(key, num_members)
    prior = jax.vmap(lambda k: lm_lib.init_lm(k, prior_spec))(keys_M)
    train = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (num_members,) + x.shape), base_params)
    return EpistemicParams(train=train, prior=prior, anchor=train,
                           prior_scale=jnp.asarray(prior_scale, jnp.float32),
                           mixture_index_M=jnp.arange(num_members))

  def logits(params, index, tokens_BxL):
    member = lambda tree: jax.tree_util.tree_map(lambda x: x[index], tree)
    prior_BxLxV = lm_lib.lm_logits(member(params.prior), tokens_BxL, prior_spec)
    return (lm_lib.lm_logits(member(params.train), tokens_BxL, lm_spec)
            + params.prior_scale * jax.lax.stop_gradient(prior_BxLxV))

  def sample_indices(key, num):
    if num <= num_members:  # Distinct members.
      return jax.random.permutation(key, num_members)[:num]
    return jax.random.randint(key, (num,), 0, num_members)

  def train_indices(key, params):
    del key
    return params.mixture_index_M

  return EpistemicLM(init, logits, sample_indices, train_indices, num_members,
                     train_copies=num_members, uses_bootstrap=bootstrap)


# ----------------------------------------------------------------------------- epinet


class EpinetMLP(nn.Module):
  """`(features_BxLxD, z) -> logit offsets_BxLxV`: an MLP whose V x dz output is dotted with z."""
  vocab_size: int
  hidden: int

  @nn.compact
  def __call__(self, features_BxLxD: jax.Array, z: jax.Array) -> jax.Array:
    z_BxLxZ = jnp.broadcast_to(z, features_BxLxD.shape[:-1] + z.shape)
    h = jnp.concatenate([features_BxLxD, z_BxLxZ], axis=-1)
    h = nn.relu(nn.Dense(self.hidden)(h))
    h = nn.relu(nn.Dense(self.hidden)(h))
    out_BxLxVxZ = nn.Dense(self.vocab_size * z.shape[-1])(h).reshape(
        features_BxLxD.shape[:-1] + (self.vocab_size, z.shape[-1]))
    return jnp.einsum('blvz,z->blv', out_BxLxVxZ, z)


def make_epinet(lm_spec: lm_lib.LMSpec, *, num_members: int, index_dim: int,
                hidden: int) -> EpistemicLM:
  """The base LM plus an epinet; the deployed LM averages `num_members` fixed indices."""
  net = EpinetMLP(lm_spec.vocab_size, hidden)
  dummy_features = jnp.zeros((1, 1, lm_spec.width), jnp.float32)

  def init(key, base_params, prior_scale):
    key_train, key_prior, key_mix = jax.random.split(key, 3)
    z0 = jnp.zeros((index_dim,), jnp.float32)
    train = {'base': base_params, 'epinet': net.init(key_train, dummy_features, z0)}
    return EpistemicParams(train=train, prior=net.init(key_prior, dummy_features, z0),
                           anchor=train, prior_scale=jnp.asarray(prior_scale, jnp.float32),
                           mixture_index_M=jax.random.normal(key_mix, (num_members, index_dim)))

  def logits(params, z, tokens_BxL):
    base_BxLxV, features_BxLxD = lm_lib.apply_lm(params.train['base'], tokens_BxL, lm_spec)
    features_BxLxD = jax.lax.stop_gradient(features_BxLxD)
    prior_BxLxV = jax.lax.stop_gradient(net.apply(params.prior, features_BxLxD, z))
    return (base_BxLxV + net.apply(params.train['epinet'], features_BxLxD, z)
            + params.prior_scale * prior_BxLxV)

  def sample_indices(key, num):
    return jax.random.normal(key, (num, index_dim))

  def train_indices(key, params):
    del params
    return jax.random.normal(key, (num_members, index_dim))

  return EpistemicLM(init, logits, sample_indices, train_indices, num_members, train_copies=1,
                     uses_bootstrap=False)


def make_epistemic_lm(agent_config, lm_spec: lm_lib.LMSpec) -> EpistemicLM:
  """Builds the epistemic LM named by `config.agent.epistemic`."""
  if agent_config.epistemic == 'ensemble':
    return make_ensemble(lm_spec, num_members=agent_config.num_members,
                         prior_width=agent_config.prior_width,
                         prior_depth=agent_config.prior_depth,
                         bootstrap=agent_config.bootstrap != 'none')
  if agent_config.epistemic == 'epinet':
    return make_epinet(lm_spec, num_members=agent_config.num_members,
                       index_dim=agent_config.index_dim, hidden=agent_config.epinet_hidden)
  raise ValueError(f"config.agent.epistemic must be 'ensemble' or 'epinet', "
                   f'got {agent_config.epistemic!r}')
