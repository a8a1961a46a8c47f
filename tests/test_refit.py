"""The refit reference (`lmrl.refit`): a fit from the pre-trained LM to a buffer's rows, with the
exact full-buffer gradient, that converges; only the buffer's first rows count; the stopping
rule fits every row for the steps whose held-out loss was lowest."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lmrl import hyperparams
from lmrl import refit as refit_lib
from lmrl.configs import tiny


@pytest.mark.slow
def test_the_refit_converges_and_sees_only_the_rounds_asked_for(spec, lm_spec, world, base_params,
                                                                  make_choice_buffer):
  config = tiny.get_config()
  config.experiment.refit_steps = 600
  config.experiment.refit_holdout_every = 0  # To convergence: no stopping rule.
  config.finetune.learning_rate = 1e-2
  refit = jax.jit(refit_lib.make_refit(config, spec, lm_spec))
  buffer = make_choice_buffer(jax.random.key(3), world, 64, 2, config.agent.num_members)
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  kl, info = refit(jax.random.key(0), base_params, buffer, world, hparams, jnp.int32(64))
  loss_T = np.asarray(info.choice_loss_T)
  assert int(info.steps) == 600 and info.held_out_loss_C.shape == (0,)
  assert np.isfinite(kl) and np.all(np.isfinite(loss_T))
  first, last = loss_T[:10].mean(), loss_T[-20:].mean()
  late = loss_T[-40:-20].mean() - last  # What the last 40 steps still gained...
  assert first - last > 0.05, (first, last)  # ... next to what the fit gained: it has stopped.
  assert late < 0.05 * (first - last), (first, last, late)
  # The first 32 rows only: the other 32 change nothing (a refit at an earlier round).
  shuffled = buffer._replace(ranking_HxK=buffer.ranking_HxK.at[32:].set(
      buffer.ranking_HxK[32:, ::-1]))
  np.testing.assert_allclose(
      refit(jax.random.key(0), base_params, buffer, world, hparams, jnp.int32(32))[0],
      refit(jax.random.key(0), base_params, shuffled, world, hparams, jnp.int32(32))[0],
      rtol=1e-6)


@pytest.mark.slow
def test_the_stopping_rule_fits_every_row_for_the_steps_of_the_lowest_held_out_loss(
    spec, lm_spec, world, base_params, make_choice_buffer):
  """The steps are those of the first fit's lowest held-out loss; the second fit is, step for step,
  a refit of that many steps without the rule (same KL), its loss flat after them."""
  config = tiny.get_config()
  config.experiment.refit_steps = 200
  config.experiment.refit_holdout_every = 4
  config.experiment.refit_check_every = 20
  config.finetune.learning_rate = 2e-2  # Fast enough to over-fit 48 rankings within 200 steps.
  buffer = make_choice_buffer(jax.random.key(5), world, 64, 2, config.agent.num_members)
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  args = (jax.random.key(1), base_params, buffer, world, hparams, jnp.int32(48))
  kl, info = jax.jit(refit_lib.make_refit(config, spec, lm_spec))(*args)
  held_out_C, steps = np.asarray(info.held_out_loss_C), int(info.steps)
  assert held_out_C.shape == (10,) and np.all(np.isfinite(held_out_C))
  assert steps == (int(np.argmin(held_out_C)) + 1) * 20, (steps, held_out_C)
  loss_T = np.asarray(info.choice_loss_T)
  np.testing.assert_array_equal(loss_T[steps:], loss_T[steps])  # Nothing fitted after `steps`.
  config.experiment.refit_holdout_every = 0
  config.experiment.refit_steps = steps
  kl_plain, info_plain = jax.jit(refit_lib.make_refit(config, spec, lm_spec))(*args)
  np.testing.assert_allclose(kl, kl_plain, rtol=1e-5)
  np.testing.assert_allclose(loss_T[:steps], info_plain.choice_loss_T, rtol=1e-5)
