"""Everything that is run: the binaries, one folder per study, the analysis scripts.

Binaries (absl flags; `--help` lists each one's flags), from any directory after `pip install -e .`:

  python -m experiments.explore --config=tiny --workdir=/tmp/tiny    # a run (a minute on a CPU)
  python -m experiments.pretrain --config=NAME --workdir=DIR         # pre-train only, and report
  python -m experiments.plot --workdir=DIR                           # redraw a run's figures
  python -m experiments.compare --workdirs=A,B --out=DIR             # one table, one figure
  python -m experiments.study --study=NAME                           # a study's runs, published

`--config=NAME` takes `default` or `tiny` (`lmrl/configs/`), a study below
(`experiments/NAME/config.py`; `NAME:VARIANT` for one of its `VARIANTS`) or a config file's path
(`lmrl.flags.config_names()` lists the names).

Studies (each folder: `config.py`, `README.md` with the question, command and conclusion, and
`results/`): headline (the default run), long_budget (20,480 rankings), paper (the GPU config),
steps (8 vs. 32 joint steps a round), infomax_units, infomax_control, deploy, prior_scale,
lr_sweep, other_worlds (pairs, non_iia, groups3, v8_ly4), classic_vs_joint, structured (the
structured world family: ceiling).

analysis/: scripts that read runs' files (the infomax diagnostic, the objective study, the offline
fit).
"""


def check_variant(study: str, variant, variants: tuple) -> None:
  """Raises a one-line `ConfigError` unless `variant` is one of the study's `variants` (or, for a
  study of one run, `variants == ()`, is empty): each study's `get_config(variant)` calls it."""
  from lmrl import errors  # pylint: disable=g-import-not-at-top
  if variants and variant not in variants:
    raise errors.ConfigError(f'--config={study}:VARIANT needs a variant, one of '
                             f'{", ".join(variants)}; got {variant!r}')
  if not variants and variant:
    raise errors.ConfigError(f'--config={study} takes no variant, got {variant!r}')
