r"""Runs a study's variants and publishes their summaries and figures into the study's folder.

  python -m experiments.study --study=steps --runs=runs/studies
  python -m experiments.study --study=steps --variants=steps8,steps32 --runs=runs/studies

A study is a folder `experiments/<study>/`: `config.py` (`get_config(variant)` and `VARIANTS`, an
empty tuple for a study of one run), `README.md` (the write-up) and `results/`. Each variant runs
`lmrl.run(config, RUNS/<study>/<variant>)` (a study of one run: `RUNS/<study>`), which resumes
when run again; then the run's `summary.json`, `results.csv`, `config.json`, `pretrain.json` and
`*.png` are copied to `experiments/<study>/results/` as `<variant>_summary.json`, ... and
`<variant>_<name>.png` (a study of one run: `summary.json`, ... and `<name>.png`); variants that
differ only in their strategies can then be combined into one run (`experiments.combine`). One
variant alone is also `python -m experiments.explore --config=<study>:<variant> --workdir=...`.
"""

import glob
import importlib.util
import os
import shutil

from absl import app
from absl import flags
from absl import logging

from lmrl import configs
from lmrl import flags as lmrl_flags

STUDIES_DIR = os.path.dirname(os.path.abspath(__file__))

_STUDY = flags.DEFINE_string('study', None, 'The study: a folder of experiments/ with a config.py.')
_VARIANTS = flags.DEFINE_list('variants', None, "The study's variants to run (default: all).")
_RUNS = flags.DEFINE_string('runs', 'runs/studies', 'Work directories: RUNS/<study>/<variant>.')
_MALLOC_ARENA_MAX = lmrl_flags.define_malloc_arena_flag()


def known_studies() -> list[str]:
  """The folders of experiments/ that hold a config.py (`lmrl.flags.config_names`' studies)."""
  return [name for name in lmrl_flags.config_names() if name not in configs.NAMES]


def load_study(name: str):
  """The module experiments/<name>/config.py; SystemExit (one line) for an unknown name."""
  if name not in known_studies():
    raise SystemExit(f'error: --study={name}: unknown study; known: {", ".join(known_studies())}')
  spec = importlib.util.spec_from_file_location(
      f'experiments.{name}.config', os.path.join(STUDIES_DIR, name, 'config.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def chosen_variants(name: str, study, wanted: list[str] | None) -> list[str | None]:
  """The variants to run: `wanted`, checked against the study's, or all (None: the one run)."""
  known = tuple(study.VARIANTS)
  if not known:
    if wanted:
      raise SystemExit(f'error: --variants: the study {name} is one run and has no variants')
    return [None]
  unknown = [v for v in wanted or () if v not in known]
  if unknown:
    raise SystemExit(f'error: --variants: unknown variant {unknown[0]} of {name}; '
                     f'known: {", ".join(known)}')
  return list(wanted or known)


PUBLISHED = ('summary.json', 'results.csv', 'config.json', 'pretrain.json')  # With the figures.


def publish(workdir: str, results_dir: str, variant: str | None) -> None:
  """Copies the run's summary.json, its rows, config and pre-trained LM's report (what
  `experiments.combine` reads back) and its figures into results_dir, prefixed `<variant>_`."""
  prefix = f'{variant}_' if variant else ''
  os.makedirs(results_dir, exist_ok=True)
  for path in [*(os.path.join(workdir, name) for name in PUBLISHED
                 if name == 'summary.json' or os.path.exists(os.path.join(workdir, name))),
               *sorted(glob.glob(f'{workdir}/*.png'))]:
    shutil.copyfile(path, os.path.join(results_dir, prefix + os.path.basename(path)))


def main(argv):
  if len(argv) > 1:
    raise SystemExit(f'error: unexpected arguments: {" ".join(argv[1:])}')
  if not _STUDY.value:
    raise SystemExit(f'error: --study is required; known: {", ".join(known_studies())}')
  study = load_study(_STUDY.value)
  variants = chosen_variants(_STUDY.value, study, _VARIANTS.value)
  lmrl_flags.limit_malloc_arenas(_MALLOC_ARENA_MAX.value)  # Before JAX starts its threads.
  logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO.
  from lmrl import errors  # pylint: disable=g-import-not-at-top (after the flags are checked)
  from lmrl import runner  # pylint: disable=g-import-not-at-top
  runner.use_compilation_cache(runner.DEFAULT_COMPILATION_CACHE)
  for variant in variants:
    workdir = os.path.join(_RUNS.value, _STUDY.value, *([variant] if variant else []))
    try:
      runner.run(study.get_config(variant), workdir, log=lambda line: print(line, flush=True),
                 pretrained_cache=runner.default_pretrained_cache() or None)
    except errors.UserError as error:
      raise SystemExit(f'error: {error}') from None
    publish(workdir, os.path.join(STUDIES_DIR, _STUDY.value, 'results'), variant)


if __name__ == '__main__':
  app.run(main)
