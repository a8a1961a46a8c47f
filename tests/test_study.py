"""`python -m experiments.study`: which variants run (unknown ones and variants of a one-run study
refused in one line), what is published into a study's results/, and an unknown study refused in
one line, and every study's config of every variant valid. Nothing here runs an experiment."""

import os

from absl import flags
from absl.testing import flagsaver
import pytest

from experiments import study as study_lib
from lmrl import checks


def test_chosen_variants_are_checked_against_the_studys_own():
  worlds = study_lib.load_study('other_worlds')
  assert study_lib.chosen_variants('other_worlds', worlds, None) == list(worlds.VARIANTS)
  assert study_lib.chosen_variants('other_worlds', worlds, ['non_iia', 'pairs']) == [
      'non_iia', 'pairs']
  with pytest.raises(SystemExit) as refused:
    study_lib.chosen_variants('other_worlds', worlds, ['pairs', 'triples'])
  assert str(refused.value) == ('error: --variants: unknown variant triples of other_worlds; '
                                'known: pairs, non_iia, groups3, v8_ly4')

  headline = study_lib.load_study('headline')
  assert headline.VARIANTS == ()
  assert study_lib.chosen_variants('headline', headline, None) == [None]  # The one run.
  with pytest.raises(SystemExit) as refused:
    study_lib.chosen_variants('headline', headline, ['pairs'])
  assert str(refused.value) == ('error: --variants: the study headline is one run and has no '
                                'variants')


def test_publish_copies_the_summary_rows_config_and_figures_with_the_variants_prefix(tmp_path):
  run = tmp_path / 'runs' / 'other_worlds' / 'pairs'
  run.mkdir(parents=True)
  files = {'summary.json': '{"joint": {}}\n', 'kl_vs_queries.png': 'png 1',
           'coverage_g1_vs_queries.png': 'png 2', 'results.csv': 'rows',
           'config.json': '{}'}
  for name, text in files.items():
    (run / name).write_text(text)
  results = tmp_path / 'experiments' / 'other_worlds' / 'results'
  study_lib.publish(str(run), str(results), 'pairs')
  assert sorted(os.listdir(results)) == ['pairs_config.json', 'pairs_coverage_g1_vs_queries.png',
                                         'pairs_kl_vs_queries.png', 'pairs_results.csv',
                                         'pairs_summary.json']  # No pretrain.json: none here.
  for name in ('summary.json', 'kl_vs_queries.png', 'coverage_g1_vs_queries.png', 'results.csv',
               'config.json'):
    assert (results / f'pairs_{name}').read_text() == files[name]
  one_run = tmp_path / 'headline_results'
  study_lib.publish(str(run), str(one_run), None)  # A study of one run: no prefix.
  assert sorted(os.listdir(one_run)) == ['config.json', 'coverage_g1_vs_queries.png',
                                         'kl_vs_queries.png', 'results.csv', 'summary.json']


def test_an_unknown_study_fails_in_one_line_listing_the_known_ones(tmp_path):
  with flagsaver.flagsaver():
    flags.FLAGS(['study', '--study=nope', f'--runs={tmp_path / "runs"}'])
    with pytest.raises(SystemExit) as refused:
      study_lib.main(['study'])
  assert str(refused.value) == ('error: --study=nope: unknown study; known: '
                                + ', '.join(study_lib.known_studies()))
  assert 'headline' in str(refused.value) and 'other_worlds' in str(refused.value)
  assert not (tmp_path / 'runs').exists()


def test_every_studys_config_of_every_variant_passes_the_checks():
  for name in study_lib.known_studies():
    study = study_lib.load_study(name)
    for variant in study_lib.chosen_variants(name, study, None):
      checks.validate(study.get_config(variant))
