"""The cache of pre-trained LMs shared by runs (`--pretrained_cache`, `pipeline.pretrained_lm`).

An entry `<cache>/<key>/` holds the parameters (`params/`, orbax) and `manifest.json` (the key,
its inputs, when it was written). The key hashes everything a pre-trained LM depends on
(`inputs`): the root seed, the world, LM and pre-training config sections, and the code that
pre-trains (`code`: a hash of the source of `lmrl.world`, `lmrl.lm`, `lmrl.pretraining` and
`lmrl.pipeline` (which picks the world's key and shapes), lmrl's version, the numerical
libraries' versions and the platform). An entry is served only when its manifest holds the
current inputs: one written by other code is never served. `entries` lists them, `clear` removes
the stale ones (or all).
"""

import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil

import jax

from lmrl import checkpoints
from lmrl import lm as lm_lib
from lmrl import pretraining
from lmrl import world as world_lib

# The modules whose source decides the parameters (`metrics`, which pretraining imports, enters
# only the report, recomputed on every load).
_PRETRAINING_FILES = (world_lib.__file__, lm_lib.__file__, pretraining.__file__,
                      importlib.util.find_spec('lmrl.pipeline').origin)
_LIBRARIES = ('jax', 'jaxlib', 'flax', 'optax')


def code_hash() -> str:
  """sha256 of the source that decides a pre-trained LM's parameters (16 hex digits)."""
  digest = hashlib.sha256()
  for path in _PRETRAINING_FILES:
    with open(path, 'rb') as f:
      digest.update(f.read())
  return digest.hexdigest()[:16]


def _pretraining_code() -> dict:
  """The code half of a cache key: source hash, versions, platform."""
  import lmrl  # pylint: disable=g-import-not-at-top  # The package, for its version.
  return {'source': code_hash(), 'lmrl': lmrl.__version__,
          'libraries': {name: importlib.metadata.version(name) for name in _LIBRARIES},
          'platform': jax.default_backend()}


def inputs(config) -> dict:
  """What a pre-trained LM depends on: the root seed, the world, LM and pre-training config
  sections, and the code that pre-trains (`_pretraining_code`)."""
  return {'config': {'seed': config.seed, 'world': config.world.to_dict(),
                     'lm': config.lm.to_dict(), 'pretrain': config.pretrain.to_dict()},
          'code': _pretraining_code()}


def key(config) -> str:
  """`inputs(config)` hashed: a cached LM is served only for an identical key."""
  text = json.dumps(inputs(config), sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()[:32]


def _read_manifest(entry: str) -> dict | None:
  try:
    with open(os.path.join(entry, 'manifest.json')) as f:
      manifest = json.load(f)
  except (OSError, ValueError):
    return None
  ok = isinstance(manifest, dict) and isinstance(manifest.get('inputs'), dict)
  return manifest if ok else None


def load(entry: str, expected: dict, like, log):
  """The parameters of a cache entry whose manifest holds `expected` inputs, else None."""
  manifest = _read_manifest(entry)
  if manifest is None or manifest.get('inputs') != json.loads(json.dumps(expected)):
    log(f'the cached pre-trained LM {entry} was written for other inputs or has no manifest; '
        'pre-training instead')
    return None
  try:
    return checkpoints.load_params(os.path.join(entry, 'params'), like)
  except Exception as error:  # pylint: disable=broad-except  # A bad cache entry: re-train.
    log(f'the cached pre-trained LM {entry} cannot be read ({type(error).__name__}); '
        'pre-training instead')
    return None


def save(entry: str, entry_inputs: dict, params) -> None:
  """Saves the parameters and the manifest under a temporary name and renames: an entry is whole
  or absent. An entry already there (one `load` refused) is replaced."""
  tmp = f'{entry}.tmp{os.getpid()}'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  checkpoints.save_params(os.path.join(tmp, 'params'), params)
  written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
  manifest = {'key': os.path.basename(entry), 'inputs': entry_inputs, 'written': written}
  with open(os.path.join(tmp, 'manifest.json'), 'w') as f:
    json.dump(manifest, f, indent=2, sort_keys=True)
  shutil.rmtree(entry, ignore_errors=True)
  try:
    os.rename(tmp, entry)
  except OSError:  # Another process cached the same LM first.
    shutil.rmtree(tmp, ignore_errors=True)


def _bytes_under(path: str) -> int:
  if os.path.isfile(path):
    return os.path.getsize(path)
  return sum(os.path.getsize(os.path.join(root, name))
             for root, _, names in os.walk(path) for name in names)


def entries(cache_dir: str) -> list[dict]:
  """Every entry of the cache, by name: {'path', 'bytes', 'manifest' (None for an entry without
  one: an older layout or a partial write), 'current' (written by this code: it may be served)}."""
  if not os.path.isdir(cache_dir):
    return []
  code = json.loads(json.dumps(_pretraining_code()))
  found = []
  for name in sorted(os.listdir(cache_dir)):
    path = os.path.join(cache_dir, name)
    manifest = _read_manifest(path) if os.path.isdir(path) else None
    found.append({'path': path, 'bytes': _bytes_under(path), 'manifest': manifest,
                    'current': manifest is not None and manifest['inputs'].get('code') == code})
  return found


def clear(cache_dir: str, stale_only: bool = True) -> tuple[int, int, int]:
  """Removes the cache's entries not written by this code (`stale_only`: they are never served)
  or all of them; returns (entries removed, bytes freed, entries kept)."""
  removed = freed = kept = 0
  for entry in entries(cache_dir):
    if stale_only and (entry['current'] or '.tmp' in os.path.basename(entry['path'])):
      kept += 1  # (A temporary entry may be being written by a live run.)
      continue
    if os.path.isdir(entry['path']):
      shutil.rmtree(entry['path'])
    else:
      os.remove(entry['path'])
    removed, freed = removed + 1, freed + entry['bytes']
  return removed, freed, kept
