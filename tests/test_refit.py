"""The refit reference (`lmrl.refit`): a fit from the pre-trained LM to a buffer's rows, with the
exact full-buffer gradient, that converges; only the buffer's first rows count."""

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
  config.finetune.learning_rate = 1e-2
  refit = jax.jit(refit_lib.make_refit(config, spec, lm_spec))
  buffer = make_choice_buffer(jax.random.key(3), world, 64, 2, config.agent.num_members)
  hparams = hyperparams.as_arrays(hyperparams.values(config))
  kl, loss_T = refit(jax.random.key(0), base_params, buffer, world, hparams, jnp.int32(64))
  loss_T = np.asarray(loss_T)
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
