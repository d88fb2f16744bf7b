"""OnlineProbeHook: the probe's numbers, its side effects, and what a run logs."""
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.runner import load_checkpoint
from mmpretrain.registry import HOOKS, MODELS

from mmhybrid.evaluation import knn_top1
from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints
from tests.test_models import tiny_models as tm
from tests.test_tools.train_helpers import run_tool, write_tiny_config

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]
NUM_SCENE_CLASSES = 15  # the demo world's label space


def tiny_model():
    multilabel = tm.multilabel()
    multilabel['head']['num_classes'] = NUM_SCENE_CLASSES
    return MODELS.build(dict(
        type='HybridPretrain', backbone=tm.swin(), mim=tm.mim(),
        contrastive=tm.contrastive(), multilabel=multilabel,
        data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=MEAN, std=STD,
                               to_rgb=True)))


def probe_hook(data_root, **kwargs):
    cfg = dict(type='OnlineProbeHook', data_root=str(data_root) + '/', num_bank=40,
               num_query=20, k=5, img_size=tm.IMG, batch_size=16)
    return HOOKS.build(dict(cfg, **kwargs))


# ------------------------------------------------------ a direct computation
def read_rgb(path, size):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_CUBIC)
    return torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1).float()


def normalised(images):
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    return (torch.stack(images) - mean) / std


def cls_set(root, list_file, limit, size):
    lines = (Path(root) / list_file).read_text().split('\n')
    entries = [line.split() for line in lines if line.strip()][:limit]
    images = [read_rgb(Path(root) / 'cls' / rel, size) for rel, _ in entries]
    return normalised(images), torch.tensor([int(label) for _, label in entries])


def average_precision(scores, targets):
    """Macro AP (%) over classes: the mean precision at the rank of each
    positive; a class without positives counts 0 (mmpretrain's convention)."""
    aps = []
    for c in range(scores.shape[1]):
        order = np.argsort(-scores[:, c], kind='stable')
        hits = targets[order, c] == 1
        ranks = np.flatnonzero(hits) + 1
        aps.append(np.mean(np.arange(1, len(ranks) + 1) / ranks) if len(ranks) else 0.)
    return 100 * float(np.mean(aps))


def direct_metrics(model, root, size, num_bank=40, num_query=20, k=5):
    """The probe's two numbers computed by hand from the files, the backbone and
    the label head (no hook code, no data preprocessor)."""
    model.eval()
    with torch.no_grad():
        bank, bank_labels = cls_set(root, 'cls/meta/train.txt', num_bank, size)
        query, query_labels = cls_set(root, 'cls/meta/test.txt', num_query, size)
        pooled = lambda x: model.backbone(x, None)[-1].mean(dim=(2, 3))  # noqa: E731
        knn = knn_top1(pooled(bank), bank_labels, pooled(query), query_labels, k=k)
        ann = json.loads((Path(root) / 'scenes/meta/val_multilabel.json').read_text())
        scenes = normalised([read_rgb(Path(root) / 'scenes' / e['img_path'], size)
                             for e in ann['data_list']])
        targets = np.zeros((len(scenes), NUM_SCENE_CLASSES))
        for i, e in enumerate(ann['data_list']):
            targets[i, e['gt_label']] = 1
        logits = model.cls_head.fc(pooled(scenes))
        mean_ap = average_precision(torch.sigmoid(logits).numpy(), targets)
    return dict(knn_top1=knn, label_mAP=mean_ap)


# --------------------------------------------------------------------- tests
def test_probe_values_equal_a_direct_computation(tiny_demo, max_iters):
    model = tiny_model()
    hook = probe_hook(tiny_demo)
    got = hook.probe(model)
    want = direct_metrics(model, tiny_demo, tm.IMG)
    assert set(got) == {'knn_top1', 'label_mAP'}
    assert got['knn_top1'] == pytest.approx(want['knn_top1'], abs=1e-9)
    assert got['label_mAP'] == pytest.approx(want['label_mAP'], abs=1e-4)
    # the images were read once, as the hook was told to
    assert [len(hook._data[n][0]) for n in ('bank', 'query', 'scenes')] == [40, 20, 8]
    loaded = hook._data['bank'][0]
    hook.probe(model)
    assert hook._data['bank'][0] is loaded


def test_probe_leaves_the_model_untouched(tiny_demo, max_iters):
    model = tiny_model()
    model.train()
    model.mim_head.eval()  # a module kept in eval on purpose stays so
    flags = {name: m.training for name, m in model.named_modules()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    seen = []
    model.backbone.register_forward_hook(lambda m, i, o: seen.append(m.training))

    probe_hook(tiny_demo).probe(model)

    assert seen and not any(seen)  # the probe ran in eval mode
    assert {name: m.training for name, m in model.named_modules()} == flags
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in state.items())
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(torch.get_rng_state(), rng)


def test_without_multilabel_task_only_knn(tiny_demo, max_iters):
    model = MODELS.build(dict(type='HybridPretrain', backbone=tm.swin(), mim=tm.mim()))
    assert set(probe_hook(tiny_demo).probe(model)) == {'knn_top1'}


def test_missing_probe_set_turns_the_hook_off_before_training(tiny_demo, tmp_path):
    hook = probe_hook(tiny_demo, label_ann='scenes/meta/nope.json', interval=1)

    class Runner:
        hooks = []
        message_hub = MessageHub.get_current_instance()
        model = None
    hook.before_train(Runner())
    assert not hook.enabled
    hook.after_train_iter(Runner(), 0)  # no probe: it would need Runner.model
    assert hook._data is None


PROBE_HOOK = '''
custom_hooks = [dict(type='OnlineProbeHook', interval={interval}, data_root=data_root,
                     num_bank=40, num_query=20, k=5)]
default_hooks['logger'] = dict(interval={log_interval})
'''


def logged_records(work_dir):
    scalars = sorted(Path(work_dir).glob('*/vis_data/scalars.json'))[-1]
    return {r['step']: r for r in map(json.loads, scalars.read_text().splitlines())}


def test_a_training_run_logs_each_probe_once(tiny_demo, tmp_path):
    """Probe every 3 iterations, log every 2: a probe's values appear in the
    next log record and in no other, and equal the probe of the checkpoint."""
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=8,
                            ckpt_interval=2,
                            extra=PROBE_HOOK.format(interval=3, log_interval=2))
    work = tmp_path / 'work'
    out = run_tool(['train.py', str(cfg), '--work-dir', str(work)])
    records = logged_records(work)
    keys = {'probe/knn_top1', 'probe/label_mAP', 'probe/seconds'}
    assert sorted(records) == [2, 4, 6, 8]
    assert [sorted(keys & set(records[s])) for s in (2, 8)] == [[], []]
    assert all(keys <= set(records[s]) for s in (4, 6))  # probes at 3 and 6
    assert 'online probe at iteration 3: knn_top1' in out.stdout + out.stderr

    # the probe at iteration 6 ran on the weights saved at iteration 6
    config = Config.fromfile(str(cfg))
    model = MODELS.build(config.model)
    with safe_mmengine_checkpoints():
        load_checkpoint(model, str(work / 'iter_6.pth'), map_location='cpu')
    hook = HOOKS.build(config.custom_hooks[0])
    again = hook.probe(model)
    assert records[6]['probe/knn_top1'] == pytest.approx(again['knn_top1'], abs=1e-9)
    assert records[6]['probe/label_mAP'] == pytest.approx(again['label_mAP'], abs=1e-4)


def test_two_processes_probe_on_rank_0_without_deadlock(tiny_demo, tmp_path):
    cfg = write_tiny_config(tmp_path / 'tiny.py', tiny_demo, max_iters=3, batch_size=2,
                            ckpt_interval=3,
                            extra=PROBE_HOOK.format(interval=1, log_interval=1))
    work = tmp_path / 'work'
    run_tool(['dist_train.sh', str(cfg), '2', '--work-dir', str(work)],
             env=dict(PORT='29627'), timeout=300)
    records = logged_records(work)
    assert all('probe/knn_top1' in records[s] for s in (1, 2, 3))
