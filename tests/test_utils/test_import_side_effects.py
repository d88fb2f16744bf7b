"""``import mmhybrid`` registers modules and changes nothing else in the process."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SNAPSHOT = '''
import json, os, sys
import torch
from mmengine.fileio.backends import backends, prefix_to_backends
from mmengine.runner.checkpoint import CheckpointLoader

def snapshot():
    return dict(
        env=dict(os.environ),
        backends={k: repr(v) for k, v in backends.items() if k != 'atomic_local'},
        prefixes={k: repr(v) for k, v in prefix_to_backends.items()},
        schemes={k: repr(v) for k, v in CheckpointLoader._schemes.items()},
        safe_globals=[repr(g) for g in torch.serialization.get_safe_globals()],
        default_dtype=repr(torch.get_default_dtype()),
        threads=torch.get_num_threads())

# the libraries mmhybrid registers into, imported first: what they do on import
# (mmseg sets TOKENIZERS_PARALLELISM) is theirs
import mmpretrain.models, mmdet.models, mmseg.models  # noqa: E401
before = snapshot()
for module in sys.argv[1:]:
    __import__(module)
print(json.dumps(dict(before=before, after=snapshot(),
                      atomic='atomic_local' in backends)))
'''


def imported(*modules):
    env = {k: v for k, v in os.environ.items() if k != 'HF_HUB_OFFLINE'}
    env['PYTHONPATH'] = REPO
    proc = subprocess.run([sys.executable, '-c', SNAPSHOT, *modules], cwd=REPO,
                          env=env, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_import_changes_no_loader_backend_or_environment():
    out = imported('mmhybrid', 'mmhybrid.downstream')
    before, after = out['before'], out['after']
    assert 'HF_HUB_OFFLINE' not in after['env']
    for key in before:
        assert after[key] == before[key], key
    # the project's own backend is registered under its own name, for configs
    # that ask for it
    assert out['atomic']
