"""Epistemic networks: one layer that says what the agent does not know, for any network.

A `Network` is a plain model as two pure functions (`init(key) -> params`,
`apply(params, tokens_BxL) -> (out, features)`), where `out` is what the model predicts (an LM's
logits float32[B, L, V], a reward model's rewards float32[B]) and `features` its last hidden
features (float32[B, L, D] or [B, D]). `lm_network` wraps the transformer LM; `lmrl.classic`
wraps its reward model. The epistemic layer is generic over that pair, in the manner of enn's
`Ensemble(model, n)`, and gives an `EpistemicNet`, a NamedTuple of functions:

  init(key, base_params, prior_scale) -> EpistemicParams
  apply(params, index_I, tokens_BxL) -> out_IxB...      every index I on every row
  apply_rows(params, index_B, tokens_BxL) -> out_B...   row b at its own index b
  apply_blocks(params, tokens_MxRxL) -> out_MxR...      block m by mixture member m: the
                                                        cheap way to sample the mixture
  sample_indices(key, num) -> index_num                 random indices, distinct where possible
  train_indices(key, params) -> index_M                 the M indices each update step fits

`EpistemicParams` keeps every frozen part as data: `prior` (the randomized prior network's
parameters), `anchor` (theta_0 of the L2 term), `prior_scale` (beta) and `mixture_index_M` (the
indices whose uniform mixture is the deployed model). Only `train` is ever given to the
optimiser, so the frozen parts cannot move.

Two kinds, looked up by name in `EPISTEMIC_KINDS`:

* `ensemble`: `M` copies of the network; every `train` and `prior` leaf has a leading member
  axis, and members are evaluated by vmapping `apply` over that axis (never by gathering one
  member's parameters). Member `m` outputs `f(theta_m) + beta * f_prior(phi_m)` with its own
  random prior network `phi_m`. Every member starts from the base (pre-trained) parameters; the
  priors make them differ, and bootstrap weights (one per example and member) make them see
  different data.
* `epinet`: the base network plus an MLP on its (stop-gradient) last features and a Gaussian
  index `z`, whose output matrix (`num_outputs` x `index_dim`) is contracted with `z` and added
  to the base's output, plus a frozen prior MLP of the same form scaled by beta (Osband et al.,
  2023). `num_outputs` is V for an LM (a logit offset per token) and 1 for a reward model.
"""

from typing import Any, Callable, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from lmrl import lm as lm_lib


class Network(NamedTuple):
  """A plain network as pure functions."""
  init: Callable[[jax.Array], Any]  # key -> params
  apply: Callable[[Any, jax.Array], tuple[jax.Array, jax.Array]]  # -> (out, features)


def lm_network(lm_spec: lm_lib.LMSpec) -> Network:
  """The transformer LM: `out` = logits float32[B, L, V], features float32[B, L, D]."""
  return Network(lambda key: lm_lib.init_lm(key, lm_spec),
                 lambda params, tokens_BxL: lm_lib.apply_lm(params, tokens_BxL, lm_spec))


def prior_lm_spec(lm_spec: lm_lib.LMSpec, agent_config) -> lm_lib.LMSpec:
  """The (smaller) architecture of an ensemble member's random prior network."""
  width = int(agent_config.prior_width)
  return lm_spec._replace(width=width, depth=int(agent_config.prior_depth),
                          num_heads=min(lm_spec.num_heads, width))


class EpistemicParams(NamedTuple):
  train: Any  # Optimised parameters.
  prior: Any  # Frozen randomized-prior parameters.
  anchor: Any  # Frozen copy of the initial `train` (theta_0 of the L2 term).
  prior_scale: jax.Array  # beta, float32[] (traced: sweepable).
  mixture_index_M: jax.Array  # The M indices whose mixture is the deployed model.


class EpistemicNet(NamedTuple):
  init: Callable[..., EpistemicParams]
  apply: Callable[[EpistemicParams, jax.Array, jax.Array], jax.Array]
  apply_rows: Callable[[EpistemicParams, jax.Array, jax.Array], jax.Array]
  apply_blocks: Callable[[EpistemicParams, jax.Array], jax.Array]
  sample_indices: Callable[[jax.Array, int], jax.Array]
  train_indices: Callable[[jax.Array, EpistemicParams], jax.Array]
  num_members: int  # M.
  train_copies: int  # How many network copies `train` holds (M for the ensemble): scales L2.
  uses_bootstrap: bool  # Whether the update weights examples per member.
  members_are_indices: bool  # True when the index set is the M mixture members (ensemble);
  #                            False when indices are drawn afresh (the epinet's Gaussian z).


def _sum_of_squares(tree) -> jax.Array:
  return sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree_util.tree_leaves(tree))


def anchor_penalty(epi: EpistemicNet, params: EpistemicParams, train) -> jax.Array:
  """`||theta - theta_0||^2` per network copy, float32[]."""
  diff = jax.tree_util.tree_map(lambda a, b: a - b, train, params.anchor)
  return _sum_of_squares(diff) / epi.train_copies


def mixture_logits_fn(epi: EpistemicNet, params: EpistemicParams) -> lm_lib.LogitsFn:
  """`tokens_ExL -> logits float32[M, E, L, V]` of every mixture member of an epistemic LM."""
  return lambda tokens_ExL: epi.apply(params, params.mixture_index_M, tokens_ExL)


def member_exact_log_probs(epi: EpistemicNet, params: EpistemicParams, prompts_PxLx, spec
                           ) -> jax.Array:
  """Exact `log p_m(y|x)` of every mixture member of an epistemic LM, float32[M, P, N]."""
  return lm_lib.exact_log_probs(mixture_logits_fn(epi, params), prompts_PxLx, spec)


# What the agent deploys (and passive / boltzmann / infomax's pool sample) from its M members:
#   'mixture':     p_bar(y|x) = mean_m p_m(y|x), the Bayesian model average (sampled by drawing a
#                  member, then a response from it);
#   'mean_logits': p(y|x) = prod_t softmax(mean_m logits_m)(y_t), one LM whose next-token logits
#                  are the members'. With centred priors the priors cancel in the mean, so before
#                  any choice it is the pre-trained LM exactly, whatever beta: the priors shape
#                  the members' disagreement (Thompson, infomax) but not what is deployed.
DEPLOY_KINDS = ('mixture', 'mean_logits')


def mean_logits_fn(epi: EpistemicNet, params: EpistemicParams) -> lm_lib.LogitsFn:
  """`tokens_ExL -> logits float32[E, L, V]`: the mean over mixture members of their logits."""
  return lambda tokens_ExL: jnp.mean(mixture_logits_fn(epi, params)(tokens_ExL), axis=0)


# ----------------------------------------------------------------------------- ensemble


def make_ensemble(model: Network, prior: Network, *, num_members: int,
                  bootstrap: bool = True, center_prior: bool = False) -> EpistemicNet:
  """`num_members` copies of `model`, each plus beta times its own frozen random `prior`.

  With `center_prior`, member m adds `beta * (prior_m - mean_m' prior_m')`: the priors still
  make members disagree, but their outputs average to the trained networks' (before training,
  to the base network's), so the deployed mixture starts near the base model instead of being
  shifted by the priors' mean.
  """

  def init(key, base_params, prior_scale):
    prior_params = jax.vmap(prior.init)(jax.random.split(key, num_members))
    train = jax.tree_util.tree_map(
        lambda x: jnp.broadcast_to(x, (num_members,) + x.shape), base_params)
    return EpistemicParams(train=train, prior=prior_params, anchor=train,
                           prior_scale=jnp.asarray(prior_scale, jnp.float32),
                           mixture_index_M=jnp.arange(num_members))

  def priors(params, tokens_BxL):
    """Every member's prior output on every row, [M, B, ...] (centred if `center_prior`)."""
    prior_MxB = jax.vmap(lambda p: prior.apply(p, tokens_BxL)[0])(params.prior)
    if center_prior:
      prior_MxB = prior_MxB - jnp.mean(prior_MxB, axis=0, keepdims=True)
    return prior_MxB

  def with_prior(params, out, prior_out):
    return out + params.prior_scale * jax.lax.stop_gradient(prior_out)

  def members(params, tokens_BxL):
    """Every member's output, [M, B, ...]: `apply` vmapped over the member axis."""
    return with_prior(params, jax.vmap(lambda t: model.apply(t, tokens_BxL)[0])(params.train),
                      priors(params, tokens_BxL))

  def apply(params, index_I, tokens_BxL):
    return members(params, tokens_BxL)[index_I]

  def apply_rows(params, index_B, tokens_BxL):
    out_MxB = members(params, tokens_BxL)
    return out_MxB[index_B, jnp.arange(tokens_BxL.shape[0])]

  def apply_blocks(params, tokens_MxRxL):
    # Member m's trained network sees only block m (M x fewer FLOPs than `members`); centring
    # needs every prior on every row, but the priors are the small networks.
    M, R = tokens_MxRxL.shape[:2]
    out_MxR = jax.vmap(lambda t, x: model.apply(t, x)[0])(params.train, tokens_MxRxL)
    if center_prior:
      prior_MxMxR = priors(params, tokens_MxRxL.reshape((M * R,) + tokens_MxRxL.shape[2:]))
      prior_MxMxR = prior_MxMxR.reshape((M, M, R) + prior_MxMxR.shape[2:])
      prior_MxR = prior_MxMxR[jnp.arange(M), jnp.arange(M)]
    else:
      prior_MxR = jax.vmap(lambda p, x: prior.apply(p, x)[0])(params.prior, tokens_MxRxL)
    return with_prior(params, out_MxR, prior_MxR)

  def sample_indices(key, num):
    if num <= num_members:  # Distinct members.
      return jax.random.permutation(key, num_members)[:num]
    return jax.random.randint(key, (num,), 0, num_members)

  def train_indices(key, params):
    del key
    return params.mixture_index_M

  return EpistemicNet(init, apply, apply_rows, apply_blocks, sample_indices, train_indices,
                      num_members, train_copies=num_members, uses_bootstrap=bootstrap,
                      members_are_indices=True)


# ----------------------------------------------------------------------------- epinet


class EpinetMLP(nn.Module):
  """`(features_...xD, z_Z) -> offsets_...xO`: an MLP whose O x Z output is dotted with z/sqrt(Z).

  Dividing by sqrt(Z) keeps an offset's scale independent of the index dimension (for z ~ N(0, I)
  each offset is a sum of Z unit-variance terms). The trainable epinet starts with a zero output
  layer (`zero_output`), so before any data the agent is the base network plus beta times the
  prior epinet, and training starts from there.
  """
  num_outputs: int  # O: V logit offsets for an LM, 1 reward offset for a reward model.
  hidden: int
  zero_output: bool = False

  @nn.compact
  def __call__(self, features: jax.Array, z_Z: jax.Array) -> jax.Array:
    lead = features.shape[:-1]
    h = jnp.concatenate([features, jnp.broadcast_to(z_Z, lead + z_Z.shape)], axis=-1)
    h = nn.relu(nn.Dense(self.hidden)(h))
    h = nn.relu(nn.Dense(self.hidden)(h))
    init = nn.initializers.zeros if self.zero_output else nn.linear.default_kernel_init
    out = nn.Dense(self.num_outputs * z_Z.shape[-1], kernel_init=init)(h).reshape(
        lead + (self.num_outputs, z_Z.shape[-1]))
    return jnp.einsum('...oz,z->...o', out, z_Z) / jnp.sqrt(z_Z.shape[-1])


def make_epinet(model: Network, *, num_outputs: int, feature_width: int, num_members: int,
                index_dim: int, hidden: int) -> EpistemicNet:
  """`model` plus an epinet; the deployed model averages `num_members` fixed indices."""
  net = EpinetMLP(num_outputs, hidden)
  trained_net = EpinetMLP(num_outputs, hidden, zero_output=True)
  dummy_features = jnp.zeros((1, 1, feature_width), jnp.float32)

  def init(key, base_params, prior_scale):
    key_train, key_prior, key_mix = jax.random.split(key, 3)
    z0 = jnp.zeros((index_dim,), jnp.float32)
    train = {'base': base_params, 'epinet': trained_net.init(key_train, dummy_features, z0)}
    return EpistemicParams(train=train, prior=net.init(key_prior, dummy_features, z0),
                           anchor=train, prior_scale=jnp.asarray(prior_scale, jnp.float32),
                           mixture_index_M=jax.random.normal(key_mix, (num_members, index_dim)))

  def offset(params, features, z_Z, out_shape):
    prior = jax.lax.stop_gradient(net.apply(params.prior, features, z_Z))
    return (net.apply(params.train['epinet'], features, z_Z)
            + params.prior_scale * prior).reshape(out_shape)

  def apply(params, z_IxZ, tokens_BxL):
    out_B, features = model.apply(params.train['base'], tokens_BxL)
    features = jax.lax.stop_gradient(features)
    return out_B + jax.vmap(lambda z: offset(params, features, z, out_B.shape))(z_IxZ)

  def apply_rows(params, z_BxZ, tokens_BxL):
    out_B, features = model.apply(params.train['base'], tokens_BxL)
    features = jax.lax.stop_gradient(features)
    return out_B + jax.vmap(lambda f, z: offset(params, f, z, out_B.shape[1:]))(features, z_BxZ)

  def apply_blocks(params, tokens_MxRxL):
    M, R = tokens_MxRxL.shape[:2]
    out_E = apply_rows(params, jnp.repeat(params.mixture_index_M, R, axis=0),
                       tokens_MxRxL.reshape((M * R,) + tokens_MxRxL.shape[2:]))
    return out_E.reshape((M, R) + out_E.shape[1:])

  def sample_indices(key, num):
    return jax.random.normal(key, (num, index_dim))

  def train_indices(key, params):
    del params
    return jax.random.normal(key, (num_members, index_dim))

  return EpistemicNet(init, apply, apply_rows, apply_blocks, sample_indices, train_indices,
                      num_members, train_copies=1, uses_bootstrap=False,
                      members_are_indices=False)


# ----------------------------------------------------------------------------- registry


def _ensemble_from_config(agent_config, model, prior, num_outputs, feature_width):
  del num_outputs, feature_width
  return make_ensemble(model, prior, num_members=int(agent_config.num_members),
                       bootstrap=agent_config.bootstrap != 'none',
                       center_prior=bool(agent_config.center_prior))


def _epinet_from_config(agent_config, model, prior, num_outputs, feature_width):
  del prior
  return make_epinet(model, num_outputs=num_outputs, feature_width=feature_width,
                     num_members=int(agent_config.num_members),
                     index_dim=int(agent_config.index_dim),
                     hidden=int(agent_config.epinet_hidden))


# name -> (agent_config, model, prior, num_outputs, feature_width) -> EpistemicNet.
EPISTEMIC_KINDS: dict[str, Callable[..., EpistemicNet]] = {
    'ensemble': _ensemble_from_config,
    'epinet': _epinet_from_config,
}


def make_epistemic(agent_config, model: Network, prior: Network, *, num_outputs: int,
                   feature_width: int) -> EpistemicNet:
  """The epistemic network named by `config.agent.epistemic`, over `model` (and `prior`)."""
  kind = agent_config.epistemic
  if kind not in EPISTEMIC_KINDS:
    raise ValueError(f'config.agent.epistemic must be one of {tuple(EPISTEMIC_KINDS)}, '
                     f'got {kind!r}')
  return EPISTEMIC_KINDS[kind](agent_config, model, prior, num_outputs, feature_width)


def make_epistemic_lm(agent_config, lm_spec: lm_lib.LMSpec) -> EpistemicNet:
  """The epistemic LM of `config.agent`: outputs are next-token logits float32[..., B, L, V]."""
  return make_epistemic(agent_config, lm_network(lm_spec),
                        lm_network(prior_lm_spec(lm_spec, agent_config)),
                        num_outputs=lm_spec.vocab_size, feature_width=lm_spec.width)
