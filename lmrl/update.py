"""The joint update: fitting the LM's own reward `r = log p(y|x)` to choices fine-tunes the policy.

One jitted step, over all epistemic indices at once, minimises (averaged over the M indices)

  mean_b w_bm * PL_NLL(r_m(x_b, y_b1..y_bK), ranking_b)        (Luce / Plackett-Luce; b over a
                                                                batch of buffered rankings, or
                                                                over all of them: `rows`)
  + lambda_lm * next-token loss of index m on pre-training data  (keeps the transition role:
                                                                  on the prompt tokens only, or
                                                                  on the whole sequence)
  + lambda_l2 * n0 / (n0 + n) * ||theta - theta_0||^2           (anchors to the pre-trained LM)
  + shown_mass_weight * mean_b (LSE_k r_m(x_b, y_bk) - LSE_k r0_m(x_b, y_bk))^2
                                                               (holds each shown set's total
                                                                mass at the member's initial
                                                                LM's: the one direction a
                                                                ranking says nothing about)

where `w_bm` are bootstrap weights (ensemble), `r_m(x, y) = log p_m(y|x)` in float32, and `n` is
the number of choices in the buffer: with `n0 = l2_prior_choices` > 0 the anchor counts as much as
`n0` choices and fades as choices accumulate (a prior, not a constant pull towards the majority
LM); `n0 = 0` keeps its weight constant.

What that prior is, as a sum over the n choices (the posterior's log density, not the averaged
loss a step takes): `sum_n NLL + lambda_2 * n0 * n / (n0 + n) * ||theta - theta_0||^2`. A Gaussian
prior would weigh a constant there. Here the weight grows like `lambda_2 * n` while n << n0 (the
anchor keeps a fixed share of the data's weight: the data never gets to lead early on) and
saturates at `lambda_2 * n0` for n >> n0, where it is a Gaussian prior of precision
`2 lambda_2 n0` that the data overwhelm as they should. With the defaults (lambda_2 0.01, n0
1,000) the prior's weight is half its final value at 1,000 choices. The learning rate and the lambdas come from the run's
traced hyper-parameters (`hparams`, `lmrl.hyperparams`), passed to every step: a sweep vmaps
over them without recompiling (the learning rate is written into the optax state of
`optax.inject_hyperparams` at each step, so that state never holds a value of its own).

Why the last term (`shown_mass_weight`, 0 = off): a ranking's likelihood depends only on the
ratios of the shown responses' probabilities, so adding one constant to all K log-utilities
leaves it unchanged; where most responses are never shown, the gradient's softmax geometry spends
that freedom by lowering the shown set's mass and handing it to unshown responses (a likelihood
displacement, as measured for DPO). The penalty pins exactly that direction,
`log sum_k p_m(y_k|x)`, to the value the member had at `theta_0` (its own prior included), and
leaves the ratios, which the ranking does identify, free. It was built for the structured world's
first setting, where every design raised the KL; that was later measured to be mostly the
pre-trained LM's own error on the world's tabular base (experiments/structured/README.md), and
once the base is learnable the anchor freezes the learner (the minority's mass stays 0), so no
study uses it now: an option, measured, not a default.

Which rankings a step fits (`rows`, a `FitRows`; its `replay`, `lmrl.buffer.REPLAY`): a batch of
`batch_size` drawn uniformly from the buffer ('uniform'), half of them from the latest round
('recent'), or every buffered ranking ('all'). 'all' is the exact full-buffer gradient: each
member's log-probability table over every (prompt, response) is computed once per step through the
prefix tree (`lm.exact_log_probs`: `V**(Ly-1)` sequences per prompt) and each ranking's utilities
are looked up in it, so a step uses all the data with its bootstrap weights and no sampling noise;
its cost is that of the table, whatever the buffer holds (for the default world 216 sequences per
member, against 128 for a sampled batch of 32 four-way rankings).

Holding rankings out (`FitRows.hold_out`, with 'all'; `config.finetune.stop`): the
step fits every ranking but the held-out ones and reports in `info['held_out_loss']` the members'
mean Plackett-Luce loss on them (unweighted: a prediction of choices not fitted, read from the
same tables at no extra cost), so that the agent can stop a round's steps where it rises
(`lmrl.agent`). 'newest' holds out the latest round's rankings (fitted from the next round on;
the first round's steps fit no choice); 'every_k' every k-th buffer row, for good
(a share of every round's queries when a round has at least k, as the refit's stopping rule
holds out). The anchor's fading (`l2_weight`) counts every buffered ranking, held-out ones
included.
"""

import functools
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from lmrl import buffer as buffer_lib
from lmrl import epistemic
from lmrl import lm as lm_lib
from lmrl import world as world_lib


class AgentState(NamedTuple):
  params: epistemic.EpistemicParams
  opt_state: Any
  # The Polyak (exponential moving) average of `params.train`, with `ema_decay` > 0; None without
  # (then the state's pytree is what it was before the option existed: old checkpoints restore).
  ema_train: Any = None


def deployed_params(state: AgentState) -> epistemic.EpistemicParams:
  """The parameters the agent deploys and explores with: the average where it keeps one."""
  if state.ema_train is None:
    return state.params
  return state.params._replace(train=state.ema_train)


def make_optimizer() -> optax.GradientTransformation:
  """Adam whose learning rate is state (traced), not a constant: see `with_learning_rate`."""
  return optax.inject_hyperparams(optax.adam)(learning_rate=0.0)


def with_learning_rate(opt_state, learning_rate):
  """`make_optimizer()`'s state with its learning rate set to `learning_rate` (traced)."""
  hyper = dict(opt_state.hyperparams, learning_rate=jnp.asarray(learning_rate, jnp.float32))
  return opt_state._replace(hyperparams=hyper)


def init_agent_state(key: jax.Array, epi: epistemic.EpistemicNet, base_params,
                     prior_scale, ema: bool = False) -> AgentState:
  """The agent before any human choice: every index starts from the pre-trained LM (and so does
  its average, with `ema`)."""
  params = epi.init(key, base_params, prior_scale)
  return AgentState(params, make_optimizer().init(params.train), params.train if ema else None)


def plackett_luce_nll(log_u_BxK: jax.Array, ranking_BxK: jax.Array,
                      full_ranking: bool) -> jax.Array:
  """Negative log-likelihood of each ranking (or of its first choice only), float32[B].

  With `full_ranking=False` this is the Luce choice NLL `-log softmax(u)[chosen]`; for K = 2 it is
  `-log sigmoid(u_chosen - u_other)`.
  """
  u_sorted_BxK = jnp.take_along_axis(log_u_BxK, ranking_BxK, axis=-1)
  if not full_ranking:
    return jax.nn.logsumexp(u_sorted_BxK, axis=-1) - u_sorted_BxK[:, 0]
  lse_rest_BxK = jax.lax.cumlogsumexp(u_sorted_BxK, axis=u_sorted_BxK.ndim - 1, reverse=True)
  return jnp.sum(lse_rest_BxK - u_sorted_BxK, axis=-1)


def table_at_rows(table_xPxN: jax.Array, buffer: buffer_lib.ChoiceBuffer,
                  vocab_size: int) -> jax.Array:
  """Each buffered row's shown responses' entries of a table over every (prompt, response).

  `table_xPxN` is [..., P, N] (e.g. a log-probability table, or one per member); returns
  [..., H, K]: entry `[..., h, k]` is the table at row h's prompt and its k-th shown response.
  """
  prompt_H = world_lib.sequence_index(buffer.prompts_HxLx, vocab_size)
  response_HxK = world_lib.sequence_index(buffer.responses_HxKxLy, vocab_size)
  return table_xPxN[..., prompt_H[:, None], response_HxK]


STOP_RULES = ('none', 'newest', 'every_k')  # Which rankings a round's steps hold out to stop on.
LM_LOSS_TOKENS = ('sequence', 'prompt')  # What the next-token regulariser predicts.


def lm_loss_num_tokens(lm_loss_tokens: str, spec: world_lib.WorldSpec) -> int | None:
  """How many predicted tokens the next-token regulariser counts: the prompt's `Lx`, or all.

  'sequence' also pulls the *responses* towards the corpus (the majority's tastes); 'prompt'
  keeps only the transition role (predicting what the human says) and leaves the responses to
  the choices.
  """
  if lm_loss_tokens not in LM_LOSS_TOKENS:
    raise ValueError(f'config.finetune.lm_loss_tokens must be one of {LM_LOSS_TOKENS}, '
                     f'got {lm_loss_tokens!r}')
  return spec.prompt_length if lm_loss_tokens == 'prompt' else None


class FitRows(NamedTuple):
  """Which buffered rankings a step fits: `replay` (`lmrl.buffer.REPLAY`: a sampled batch of
  `batch_size` rows, or 'all'), and with 'all' the ones it holds out (`hold_out`, one of
  `STOP_RULES`; `hold_out_every`: k of 'every_k')."""
  replay: str = 'uniform'
  batch_size: int = 32
  hold_out: str = 'none'
  hold_out_every: int = 10


def held_out_rows(buffer: buffer_lib.ChoiceBuffer, hold_out: str, every: int) -> jax.Array:
  """bool[H]: the rows a step holds out under `hold_out` ('newest' or 'every_k': every
  `every`-th row, rows k-1, 2k-1, ...), among the valid ones."""
  if hold_out == 'newest':
    return buffer_lib.latest_rows(buffer)
  if hold_out != 'every_k':
    raise ValueError(f"held_out_rows takes 'newest' or 'every_k', got {hold_out!r}")
  row_H = jnp.arange(buffer.valid_H.shape[0])
  return buffer.valid_H & (row_H % every == every - 1)


def l2_weight(hparams, buffer: buffer_lib.ChoiceBuffer) -> jax.Array:
  """`lambda_l2 * n0 / (n0 + n)` for `n` choices in the buffer (`lambda_l2` when n0 = 0)."""
  n0 = jnp.asarray(hparams['l2_prior_choices'], jnp.float32)
  n = jnp.sum(buffer.valid_H).astype(jnp.float32)
  return hparams['lambda_l2'] * jnp.where(n0 > 0, n0 / jnp.maximum(n0 + n, 1e-6), 1.0)


class NextTokenTerm(NamedTuple):
  """The next-token regulariser: `batch_size` corpus sequences a step, drawn from the groups in
  proportions `corpus_group_mix`, predicting `tokens` (one of `LM_LOSS_TOKENS`)."""
  batch_size: int
  corpus_group_mix: tuple[float, ...]
  tokens: str = 'sequence'


def make_joint_update(epi: epistemic.EpistemicNet, spec: world_lib.WorldSpec, *,
                      full_ranking: bool, lm_term: NextTokenTerm, rows: FitRows = FitRows(),
                      shown_mass_weight: float = 0.0, ema_decay: float = 0.0) -> Callable:
  """Returns `update(key, state, buffer, world, hparams) -> (state, info)`, one joint gradient
  step; `hparams` holds the traced `learning_rate`, `lambda_lm`, `lambda_l2`, `l2_prior_choices`.
  `shown_mass_weight` > 0 adds the shown-mass anchor (module docstring; static: 0 computes
  nothing extra). With `ema_decay` d > 0 each step also moves the state's average,
  `ema <- d ema + (1 - d) theta` (the state must keep one: `init_agent_state(..., ema=True)`)."""
  replay, batch_size, hold_out, hold_out_every = rows
  if replay not in buffer_lib.REPLAY:
    raise ValueError(f'config.finetune.rows must be one of {buffer_lib.REPLAY}, got {replay!r}')
  if hold_out not in STOP_RULES:
    raise ValueError(f'config.finetune.stop must be one of {STOP_RULES}, got {hold_out!r}')
  if hold_out != 'none' and replay != 'all':
    raise ValueError(f"holding rankings out ({hold_out!r}) needs rows='all', got {replay!r}")
  optimizer = make_optimizer()
  group_mix_G = jnp.asarray(lm_term.corpus_group_mix, jnp.float32)
  prompts_PxLx = jnp.asarray(world_lib.all_prompts(spec))

  def sampled_choice_loss(key, logits_fns, buffer):
    """float32[M] twice: the bootstrap-weighted PL loss of a batch of rows, and its
    shown-mass penalty (zeros without the reference `logits_fns[1]`)."""
    rows_B = buffer_lib.sample_rows(key, buffer, batch_size, recent=replay == 'recent')
    log_u_MxBxK, log_u0_MxBxK = [
        None if fn is None else lm_lib.shown_log_probs(
            fn, buffer.prompts_HxLx[rows_B], buffer.responses_HxKxLy[rows_B], spec)
        for fn in logits_fns]
    valid_B = jnp.ones((batch_size,), bool)
    return (member_choice_loss(log_u_MxBxK, buffer.ranking_HxK[rows_B],
                               buffer.bootstrap_HxM[rows_B].T, valid_B),
            shown_mass_penalty(log_u_MxBxK, log_u0_MxBxK, valid_B), None)

  def exact_choice_loss(logits_fns, buffer):
    """As `sampled_choice_loss` for every buffered row but the held-out ones (`rows.hold_out`: their
    unweighted loss is the third value, else None), by lookup in the exact tables."""
    log_u_MxHxK, log_u0_MxHxK = [
        None if fn is None else table_at_rows(lm_lib.exact_log_probs(fn, prompts_PxLx, spec),
                                              buffer, spec.vocab_size)
        for fn in logits_fns]
    fit_H, held_out = buffer.valid_H, None
    if hold_out != 'none':
      held_H = held_out_rows(buffer, hold_out, hold_out_every)
      fit_H = fit_H & ~held_H
      nll_MxH = jax.vmap(plackett_luce_nll, in_axes=(0, None, None))(
          jax.lax.stop_gradient(log_u_MxHxK), buffer.ranking_HxK, full_ranking)
      held_out = (jnp.sum(jnp.where(held_H, jnp.mean(nll_MxH, axis=0), 0.0))
                  / jnp.maximum(jnp.sum(held_H), 1))
    return (member_choice_loss(log_u_MxHxK, buffer.ranking_HxK, buffer.bootstrap_HxM.T, fit_H),
            shown_mass_penalty(log_u_MxHxK, log_u0_MxHxK, fit_H), held_out)

  def shown_mass_penalty(log_u_MxBxK, log_u0_MxBxK, valid_B):
    """Mean over the valid rows of `(LSE_k log u - LSE_k log u0)^2`, float32[M]."""
    if log_u0_MxBxK is None:
      return jnp.zeros(log_u_MxBxK.shape[0], jnp.float32)
    shift_MxB = (jax.nn.logsumexp(log_u_MxBxK, axis=-1)
                 - jax.lax.stop_gradient(jax.nn.logsumexp(log_u0_MxBxK, axis=-1)))
    return (jnp.sum(jnp.where(valid_B, shift_MxB**2, 0.0), axis=-1)
            / jnp.maximum(jnp.sum(valid_B), 1))

  def member_choice_loss(log_u_MxBxK, ranking_BxK, bootstrap_MxB, valid_B):
    """Mean over the valid rows of `w_bm * PL_NLL`, float32[M] (w = 1 without a bootstrap)."""
    weights_MxB = bootstrap_MxB if epi.uses_bootstrap else jnp.ones(
        (epi.num_members, ranking_BxK.shape[0]), jnp.float32)
    nll_MxB = jax.vmap(plackett_luce_nll, in_axes=(0, None, None))(log_u_MxBxK, ranking_BxK,
                                                                   full_ranking)
    if replay != 'all':  # A sampled batch: every row counts (as before the option existed).
      return jnp.mean(weights_MxB * nll_MxB, axis=-1)
    return (jnp.sum(jnp.where(valid_B, weights_MxB * nll_MxB, 0.0), axis=-1)
            / jnp.maximum(jnp.sum(valid_B), 1))

  def loss_fn(train, state: AgentState, key, buffer: buffer_lib.ChoiceBuffer, world, hparams):
    key_rows, key_corpus, key_index = jax.random.split(key, 3)
    params = state.params._replace(train=train)
    corpus_BxL = world_lib.sample_corpus(key_corpus, world, spec, group_mix_G,
                                           lm_term.batch_size)
    indices_M = epi.train_indices(key_index, params)
    logits_fn = lambda tokens_BxL: epi.apply(params, indices_M, tokens_BxL)  # [M, B, L, V]
    initial = params._replace(train=params.anchor)  # Each member as it was at theta_0.
    logits0_fn = (lambda tokens_BxL: epi.apply(initial, indices_M, tokens_BxL)
                  ) if shown_mass_weight > 0 else None
    choice_loss = exact_choice_loss if replay == 'all' else functools.partial(
        sampled_choice_loss, key_rows)
    choice_M, mass_M, held_out = choice_loss((logits_fn, logits0_fn), buffer)
    lm_M = lm_lib.next_token_loss(logits_fn, corpus_BxL, lm_loss_num_tokens(lm_term.tokens, spec))
    l2 = epistemic.anchor_penalty(epi, params, train)
    loss = (jnp.mean(choice_M) + hparams['lambda_lm'] * jnp.mean(lm_M)
            + l2_weight(hparams, buffer) * l2)
    if shown_mass_weight > 0:
      loss = loss + shown_mass_weight * jnp.mean(mass_M)
    info = {'loss': loss, 'choice_loss': jnp.mean(choice_M), 'lm_loss': jnp.mean(lm_M),
            'l2': l2, 'shown_mass': jnp.mean(mass_M)}
    if held_out is not None:
      info['held_out_loss'] = held_out
    return loss, info

  def update(key, state: AgentState, buffer: buffer_lib.ChoiceBuffer, world, hparams):
    grads, info = jax.grad(loss_fn, has_aux=True)(state.params.train, state, key, buffer, world,
                                                  hparams)
    opt_state = with_learning_rate(state.opt_state, hparams['learning_rate'])
    updates, opt_state = optimizer.update(grads, opt_state, state.params.train)
    train = optax.apply_updates(state.params.train, updates)
    state = state._replace(params=state.params._replace(train=train), opt_state=opt_state)
    if ema_decay > 0:
      state = state._replace(ema_train=jax.tree_util.tree_map(
          lambda avg, now: ema_decay * avg + (1.0 - ema_decay) * now, state.ema_train, train))
    return state, info

  return update


def joint_update_from_config(config, epi: epistemic.EpistemicNet, spec: world_lib.WorldSpec,
                             rows: str | None = None, hold_out: str | None = None
                             ) -> Callable:
  """`make_joint_update` with `config`'s settings (`rows`: `config.finetune.rows` unless given;
  `hold_out`: `config.finetune.stop` unless given: a refit passes 'none')."""
  f = config.finetune
  return make_joint_update(
      epi, spec, full_ranking=config.world.full_ranking,
      lm_term=NextTokenTerm(f.lm_batch_size, tuple(config.world.corpus_group_mix),
                            f.lm_loss_tokens),
      rows=FitRows(rows or f.rows, f.batch_size, f.stop if hold_out is None else hold_out,
                   f.stop_every),
      shown_mass_weight=float(f.shown_mass_weight), ema_decay=float(f.ema_decay))
