"""From a config to the pieces of an experiment: the world, the pre-trained LM, the agent.

What the binaries in `experiments/` share, and what a notebook calls to get going:

  spec, lm_spec, world = lmrl.pipeline.build_world(config)
  params, report = lmrl.pipeline.pretrained_lm(config, spec, lm_spec, world, workdir)
  agent = lmrl.pipeline.make_agent(config, spec, lm_spec)

`lmrl.run(config, workdir)` (`lmrl.runner`) does all of it and runs the whole experiment.
"""

import datetime
import hashlib
import importlib.metadata
import inspect
import json
import os
import shutil
import time

import jax

from lmrl import agent as agent_lib
from lmrl import checkpoints
from lmrl import experiment
from lmrl import lm as lm_lib
from lmrl import pretraining
from lmrl import registry
from lmrl import files
from lmrl import workdir as workdir_lib
from lmrl import world as world_lib


def build_specs(config) -> tuple[world_lib.WorldSpec, lm_lib.LMSpec]:
  """(WorldSpec, LMSpec) of `config.world` / `config.lm`: static shapes, nothing computed."""
  spec = world_lib.spec_from_config(config.world)
  return spec, lm_lib.lm_spec_from_config(config.lm, spec)


def make_world(config, spec: world_lib.WorldSpec) -> world_lib.World:
  """The world of `config.world`, drawn from `key(world.seed)`."""
  return world_lib.make_world(jax.random.key(config.world.seed), spec)


def build_world(config):
  """(WorldSpec, LMSpec, World) of `config.world` / `config.lm`; the world from `world.seed`."""
  spec, lm_spec = build_specs(config)
  return spec, lm_spec, make_world(config, spec)


# ------------------------------------------------------------------- the pre-trained-LM cache
# A directory of pre-trained LMs shared by runs: `<key>/params` (orbax) and `<key>/manifest.json`
# (the key's inputs, for a person listing the entries). The key hashes everything that decides
# the parameters: the config sections, and the code: the source of the modules that build the
# world and its corpus (world), the LM (lm), train it (pretraining) and pick the world's key and
# shapes (`build_specs`, `make_world` here), lmrl's version, the numerical libraries' versions
# and the platform. (`metrics`, which pretraining imports, enters only the report, recomputed on
# every load.) An entry written by other code has another key and is never served.

_PRETRAINING_MODULES = (world_lib, lm_lib, pretraining)
_LIBRARIES = ('jax', 'jaxlib', 'flax', 'optax')


def pretraining_code_hash() -> str:
  """sha256 of the source that decides a pre-trained LM's parameters (16 hex digits)."""
  digest = hashlib.sha256()
  for module in _PRETRAINING_MODULES:
    with open(module.__file__, 'rb') as f:
      digest.update(f.read())
  for function in (build_specs, make_world):
    digest.update(inspect.getsource(function).encode())
  return digest.hexdigest()[:16]


def _pretraining_code() -> dict:
  """The code half of a cache key: source hash, versions, platform."""
  import lmrl  # pylint: disable=g-import-not-at-top  # The package, for its version.
  return {'source': pretraining_code_hash(), 'lmrl': lmrl.__version__,
          'libraries': {name: importlib.metadata.version(name) for name in _LIBRARIES},
          'platform': jax.default_backend()}


def pretrained_cache_inputs(config) -> dict:
  """What a pre-trained LM depends on: the root seed, the world, LM and pre-training config
  sections, and the code that pre-trains (`_pretraining_code`)."""
  return {'config': {'seed': config.seed, 'world': config.world.to_dict(),
                     'lm': config.lm.to_dict(), 'pretrain': config.pretrain.to_dict()},
          'code': _pretraining_code()}


def pretrained_cache_key(config) -> str:
  """`pretrained_cache_inputs(config)` hashed: a cached LM is served only for an identical key."""
  inputs = json.dumps(pretrained_cache_inputs(config), sort_keys=True)
  return hashlib.sha256(inputs.encode()).hexdigest()[:32]


def _read_manifest(entry: str) -> dict | None:
  try:
    with open(os.path.join(entry, 'manifest.json')) as f:
      manifest = json.load(f)
  except (OSError, ValueError):
    return None
  ok = isinstance(manifest, dict) and isinstance(manifest.get('inputs'), dict)
  return manifest if ok else None


def _load_cached(entry: str, inputs: dict, like, log):
  """The parameters of a cache entry whose manifest holds `inputs`, else None (pre-train)."""
  manifest = _read_manifest(entry)
  if manifest is None or manifest.get('inputs') != json.loads(json.dumps(inputs)):
    log(f'the cached pre-trained LM {entry} was written for other inputs or has no manifest; '
        'pre-training instead')
    return None
  try:
    return checkpoints.load_params(os.path.join(entry, 'params'), like)
  except Exception as error:  # pylint: disable=broad-except  # A bad cache entry: re-train.
    log(f'the cached pre-trained LM {entry} cannot be read ({type(error).__name__}); '
        'pre-training instead')
    return None


def _save_to_cache(entry: str, inputs: dict, params) -> None:
  """Saves the parameters and the manifest under a temporary name and renames: an entry is whole
  or absent. An entry already there (one `_load_cached` refused) is replaced."""
  tmp = f'{entry}.tmp{os.getpid()}'
  shutil.rmtree(tmp, ignore_errors=True)
  os.makedirs(tmp)
  checkpoints.save_params(os.path.join(tmp, 'params'), params)
  written = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')
  manifest = {'key': os.path.basename(entry), 'inputs': inputs, 'written': written}
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


def pretrained_cache_entries(cache_dir: str) -> list[dict]:
  """Every entry of the cache, by name: {'path', 'bytes', 'manifest' (None for an entry without
  one: an older layout or a partial write), 'current' (written by this code: it may be served)}."""
  if not os.path.isdir(cache_dir):
    return []
  code = json.loads(json.dumps(_pretraining_code()))
  entries = []
  for name in sorted(os.listdir(cache_dir)):
    path = os.path.join(cache_dir, name)
    manifest = _read_manifest(path) if os.path.isdir(path) else None
    entries.append({'path': path, 'bytes': _bytes_under(path), 'manifest': manifest,
                    'current': manifest is not None and manifest['inputs'].get('code') == code})
  return entries


def clear_pretrained_cache(cache_dir: str, stale_only: bool = True) -> tuple[int, int, int]:
  """Removes the cache's entries not written by this code (`stale_only`: they are never served)
  or all of them; returns (entries removed, bytes freed, entries kept)."""
  removed = freed = kept = 0
  for entry in pretrained_cache_entries(cache_dir):
    if stale_only and (entry['current'] or '.tmp' in os.path.basename(entry['path'])):
      kept += 1  # (A temporary entry may be being written by a live run.)
      continue
    if os.path.isdir(entry['path']):
      shutil.rmtree(entry['path'])
    else:
      os.remove(entry['path'])
    removed, freed = removed + 1, freed + entry['bytes']
  return removed, freed, kept


def pretrained_lm(config, spec, lm_spec, world, workdir: str | None = None, log=print,
                  cache_dir: str | None = None):
  """The pre-trained LM's parameters and its report (KL to the majority and to p*).

  With a `workdir`, parameters are saved to `workdir/pretrained` (orbax) and its report to
  `workdir/pretrain.json`; if they are already there they are loaded instead of re-trained.
  With a `cache_dir`, an LM pre-trained for the same seed, world, LM and pre-training config by
  the same code (`pretrained_cache_inputs`) in any earlier run is loaded from `cache_dir/<key>`
  instead of pre-training it again (other strategies, agents or hyper-parameters share it), and
  a newly pre-trained LM is added there with its manifest.
  """
  eval_index_P = experiment.eval_prompt_index(config, spec)
  ckpt = os.path.join(workdir, 'pretrained') if workdir else None
  inputs = pretrained_cache_inputs(config)
  cached = os.path.join(cache_dir, pretrained_cache_key(config)) if cache_dir else None
  like = lambda: lm_lib.init_lm(jax.random.key(0), lm_spec)
  params = None
  if ckpt and os.path.exists(ckpt):
    params = checkpoints.load_params(ckpt, like())
    log(f'loaded the pre-trained LM from {ckpt}')
  elif cached and os.path.exists(cached):
    params = _load_cached(cached, inputs, like(), log)
    if params is not None:
      log(f'loaded the pre-trained LM from the cache {cached} (same seed, world, LM and '
          'pre-training config, same code)')
      if ckpt and workdir_lib.is_writer():
        checkpoints.save_params(ckpt, params)
  if params is None:
    log(f'pre-training the LM ({config.pretrain.steps} steps of {config.pretrain.batch_size} '
        'corpus sequences) ...')
    started = time.perf_counter()
    params, losses = pretraining.pretrain_from_config(config, world, spec, lm_spec)
    log(f'pre-trained for {config.pretrain.steps} steps: next-token loss '
        f'{float(losses[0]):.3f} -> {float(losses[-1]):.3f} '
        f'({time.perf_counter() - started:.1f}s, compilation included)')
    if ckpt:
      checkpoints.save_params(ckpt, params)
    if cached and workdir_lib.is_writer():
      _save_to_cache(cached, inputs, params)
  report = pretraining.report(params, world, spec, lm_spec, eval_index_P)
  if workdir and workdir_lib.is_writer():
    files.write_json(os.path.join(workdir, 'pretrain.json'), report)
  return params, report


def make_agent(config, spec, lm_spec, kind: str | None = None) -> agent_lib.Agent:
  """The agent `kind` (a name of `registry.AGENT_KINDS`; default `config.agent.kind`)."""
  kind = kind or config.agent.kind
  if kind not in registry.AGENT_KINDS:
    raise ValueError(f'an agent kind must be one of {tuple(registry.AGENT_KINDS)}, got {kind!r}')
  return registry.AGENT_KINDS[kind](config, spec, lm_spec)
