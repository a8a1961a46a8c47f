"""The quickstart notebook runs top to bottom, and its saved outputs are what it gives today.

nbclient executes it in a Jupyter kernel (the install cell, tagged `skip-execution`, is skipped)
and the fresh outputs must have the saved ones' structure: the same code cells with outputs,
the same output types and MIME types, tables with the same columns (the numbers' digits may
differ). To keep it cheap its runs start from the session's `tiny_run` and `tiny_lr_sweep` (the
same configs): copies of those work directories are resumed (every strategy already done).

To refresh the saved outputs after changing the notebook (a fresh tiny run and sweep in a new
temporary directory, as a first-time reader would get them):

  python tests/test_notebook.py
"""

import html.parser
import os
import shutil

import pytest

nbformat = pytest.importorskip('nbformat')
nbclient = pytest.importorskip('nbclient')
pytest.importorskip('pandas')  # The [analysis] extra: lmrl.rows.to_dataframe.

NOTEBOOK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        'notebooks', 'quickstart.ipynb')
SKIP_TAG = 'skip-execution'  # nbclient's default `skip_cells_with_tag`.


class _HeaderCells(html.parser.HTMLParser):
  """The text of every <th> inside a table's <thead>: a DataFrame's column (and index) names."""

  def __init__(self):
    super().__init__()
    self.cells, self._in_head, self._in_th = [], False, False

  def handle_starttag(self, tag, attrs):
    if tag == 'thead':
      self._in_head = True
    elif tag == 'th' and self._in_head:
      self._in_th = True
      self.cells.append('')

  def handle_endtag(self, tag):
    if tag == 'thead':
      self._in_head = False
    elif tag == 'th':
      self._in_th = False

  def handle_data(self, data):
    if self._in_th:
      self.cells[-1] += data.strip()


def execute(notebook, runs: str) -> None:
  """Executes `notebook` in place in a fresh kernel, its runs in the directory `runs`."""
  env = {**os.environ, 'LMRL_NOTEBOOK_RUNS': runs}
  for cell in notebook.cells:
    if cell.cell_type == 'code':
      cell.outputs, cell.execution_count = [], None
  nbclient.NotebookClient(notebook, timeout=600, kernel_name='python3', record_timing=False,
                          resources={'metadata': {'path': runs}}).execute(env=env)


def table_columns(html_text: str) -> tuple[str, ...]:
  parser = _HeaderCells()
  parser.feed(html_text)
  return tuple(parser.cells)


def structure(notebook) -> list[tuple]:
  """Per code cell: (index, source's first line, printed to stdout?, its other outputs as
  (output type, MIME types, table columns)). stderr is left out (warnings vary by machine)."""
  out = []
  for i, cell in enumerate(notebook.cells):
    if cell.cell_type != 'code':
      continue
    printed, others = False, []
    for o in cell.get('outputs', []):
      if o.output_type == 'stream':
        printed |= o.name == 'stdout'
      elif o.output_type == 'error':
        others.append(('error', o.ename, o.evalue))
      else:
        data = o.get('data', {})
        others.append((o.output_type, tuple(sorted(data)),
                       table_columns(data.get('text/html', ''))))
    out.append((i, cell.source.splitlines()[0], printed, tuple(others)))
  return out


def test_the_saved_notebook_shows_its_outputs():
  """Every code cell but the install cell has saved outputs (GitHub shows them), none an error;
  the install cell is not executed."""
  saved = nbformat.read(NOTEBOOK, as_version=4)
  code = [c for c in saved.cells if c.cell_type == 'code']
  install = [c for c in code if SKIP_TAG in c.metadata.get('tags', ())]
  assert len(install) == 1 and "# !pip install -e '..[analysis]'" in install[0].source
  assert not install[0].outputs
  for cell in code:
    if cell not in install:
      assert cell.outputs, f'no saved outputs:\n{cell.source}'
      assert all(o.output_type != 'error' for o in cell.outputs), cell.source
  kinds = [o.output_type for c in code for o in c.outputs]
  assert kinds.count('display_data') + kinds.count('execute_result') >= 6  # Tables, figures.


def test_the_notebook_executes_with_the_saved_outputs_structure(tiny_run, tiny_lr_sweep,
                                                                 tmp_path):
  shutil.copytree(tiny_run, tmp_path / 'tiny')
  shutil.copytree(tiny_lr_sweep[0], tmp_path / 'lr_sweep')  # The notebook's sweep, resumed.
  saved = nbformat.read(NOTEBOOK, as_version=4)
  fresh = nbformat.read(NOTEBOOK, as_version=4)
  execute(fresh, str(tmp_path))
  assert structure(fresh) == structure(saved)
  printed = ''.join(o.text for c in fresh.cells if c.cell_type == 'code'
                    for o in c.outputs if o.output_type == 'stream' and o.name == 'stdout')
  assert printed.count('already done, skipped') == 4  # Both runs resumed (2 strategies each).
  assert 'close 50%' in printed and 'ranked best first' in printed
  assert os.path.exists(tmp_path / 'comparison' / 'kl_vs_queries.png')


if __name__ == '__main__':
  import tempfile  # pylint: disable=g-import-not-at-top
  notebook = nbformat.read(NOTEBOOK, as_version=4)
  execute(notebook, tempfile.mkdtemp(prefix='lmrl-quickstart-'))
  nbformat.write(notebook, NOTEBOOK)
  print(f'wrote {NOTEBOOK}')
