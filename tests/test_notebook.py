"""The quickstart notebook runs top to bottom on the tiny config (so it cannot rot).

Its code cells are executed in order in one namespace, as a kernel would (no Jupyter needed).
Its config is the session's `tiny_run`'s, and it is pointed at a copy of that run's work
directory, so `lmrl.run` resumes it (every sweep already done) and the rest of the notebook
reads, summarises and plots real results in seconds.
"""

import json
import os
import shutil

import matplotlib
import pytest

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        'notebooks', 'quickstart.ipynb')


def test_quickstart_notebook_executes_and_leaves_the_backend_alone(tiny_run, tmp_path,
                                                                    monkeypatch, capsys):
  shutil.copytree(tiny_run, tmp_path / 'run')
  monkeypatch.setenv('LMRL_NOTEBOOK_WORKDIR', str(tmp_path / 'run'))
  backend = matplotlib.get_backend()
  with open(NOTEBOOK) as f:
    cells = [''.join(c['source']) for c in json.load(f)['cells'] if c['cell_type'] == 'code']
  assert len(cells) >= 4
  namespace = {'__name__': '__notebook__'}
  for i, source in enumerate(cells):
    try:
      exec(compile(source, f'{NOTEBOOK}[cell {i}]', 'exec'), namespace)  # pylint: disable=exec-used
    except Exception as error:  # pylint: disable=broad-except
      pytest.fail(f'cell {i} raised {error!r}:\n{source}')
  printed = capsys.readouterr().out
  assert 'close 50%' in printed and 'ranked best first' in printed
  assert len(namespace['fig'].axes) == 3
  assert matplotlib.get_backend() == backend
  namespace['plt'].close('all')
