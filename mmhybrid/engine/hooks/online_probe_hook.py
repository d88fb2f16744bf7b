"""Monitoring: frozen-feature probes of the online backbone while it trains."""
import json
import logging
import os.path as osp
import time
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.dist import is_main_process
from mmengine.hooks import Hook, LoggerHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

from mmhybrid.evaluation import knn_top1, label_map, multilabel_targets

# MessageHub keys (the LoggerHook drops the 'train/' prefix in scalars.json)
KNN_KEY = 'train/probe/knn_top1'
MAP_KEY = 'train/probe/label_mAP'
SECONDS_KEY = 'train/probe/seconds'


@HOOKS.register_module()
class OnlineProbeHook(Hook):
    """Every ``interval`` iterations, probe the online backbone on fixed images:

    - ``probe/knn_top1``: top-1 (%) of a weighted kNN (k=20, cosine similarity,
      exp(sim / 0.07) votes: ``mmhybrid.evaluation.knn_top1``) on
      Fashion-MNIST, ``num_bank`` images of ``knn_bank`` as the memory bank and
      ``num_query`` of ``knn_query`` as queries; features are the last stage of
      ``model.extract_feat`` (unmasked), globally average-pooled;
    - ``probe/label_mAP``: mAP (%, macro: ``mmhybrid.evaluation.label_map``, by
      mmpretrain's ``AveragePrecision``) of the multi-label head
      (``model.predict``) on held-out labelled scenes;
    - ``probe/seconds``: the probe's wall time.

    The scalars go through the MessageHub into the next log record of the
    LoggerHook (``vis_data/scalars.json``, TensorBoard when its vis backend is on,
    and the log line) and only into that one: they are removed once logged, so a
    curve holds one point per probe. An interval that is a multiple of the
    logger's puts each point at the iteration it was measured.

    The model runs in eval mode (no drop path) under ``no_grad``; every
    module's train/eval flag is restored afterwards, nothing else is touched
    (weights, buffers, gradients and RNG states stay as they were). Images are
    read once, at the first probe, and kept in memory as uint8 (64 x 64 x 3:
    2000 images are 25 MB); they go through the model's own data preprocessor.

    The default queries and scenes (``cls/meta/test.txt``, ``scenes/val``) are
    the splits ``tools/benchmarks/ablation.py`` reports on: the probe is a
    monitor; choosing checkpoints or settings by it needs other files
    (``knn_query``, ``label_ann``), e.g. the ablation's ``splits/``.

    When a list or annotation file is missing the hook warns before training
    and stays off (the training goes on).

    Distributed: rank 0 probes its copy of the model (the wrapped module: no
    collective is involved, BN layers in eval mode do not synchronise); the
    other ranks go on and wait for it at the next gradient all-reduce.

    Cost: one forward pass over the probe images per probe (the defaults read
    twice the images the demo config asks for); the log line of every probe
    states its measured share (``probe: 8.5 s, 43% of the 20 s since the last
    probe``). Measured figures: README, "The algorithm".

    Args:
        interval (int): Iterations between probes. Defaults to 100.
        data_root (str): Root of the demo world. Defaults to
            ``'data/fashion_demo/'``.
        knn_bank (str, optional): mmpretrain ``CustomDataset`` list
            (``train/00000.png 3``, paths relative to ``<data_root>/cls/``)
            of the kNN memory bank, relative to ``data_root``. None: no kNN
            probe. Defaults to ``'cls/meta/train.txt'``.
        num_bank (int): First images of ``knn_bank`` used. Defaults to 1000.
        knn_query (str): List of the kNN queries. Defaults to
            ``'cls/meta/test.txt'``.
        num_query (int): First images of ``knn_query`` used. Defaults to 500.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Vote weight exp(sim / temperature). Defaults to 0.07.
        label_ann (str, optional): mmpretrain ``MultiLabelDataset`` JSON of
            labelled scenes, relative to ``data_root``; None (or a model
            without the ``multilabel`` task): no mAP. Defaults to
            ``'scenes/meta/val_multilabel.json'``.
        label_prefix (str): Folder the JSON's ``img_path`` are relative to,
            relative to ``data_root``. Defaults to ``'scenes/'``.
        num_label (int, optional): First scenes used; None: all. Defaults to
            None (500 in the demo world).
        img_size (int, optional): Resize every image to this square size
            (bicubic); None: as stored. Defaults to None.
        batch_size (int): Images per forward pass. Defaults to 250.
    """

    # before the LoggerHook (BELOW_NORMAL): the values go into this iteration's
    # log record
    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 100,
                 data_root: str = 'data/fashion_demo/',
                 knn_bank: Optional[str] = 'cls/meta/train.txt',
                 num_bank: int = 1000,
                 knn_query: str = 'cls/meta/test.txt',
                 num_query: int = 500,
                 k: int = 20,
                 temperature: float = 0.07,
                 label_ann: Optional[str] = 'scenes/meta/val_multilabel.json',
                 label_prefix: str = 'scenes/',
                 num_label: Optional[int] = None,
                 img_size: Optional[int] = None,
                 batch_size: int = 250) -> None:
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.data_root = data_root
        self.knn_bank, self.num_bank = knn_bank, num_bank
        self.knn_query, self.num_query = knn_query, num_query
        self.k, self.temperature = k, temperature
        self.label_ann, self.label_prefix = label_ann, label_prefix
        self.num_label = num_label
        self.img_size = img_size
        self.batch_size = batch_size
        self._data: Optional[Dict[str, Tuple[torch.Tensor, torch.Tensor]]] = None
        self._log_interval: Optional[int] = None
        self._pending = False
        self._since: Optional[float] = None
        self.enabled = True

    # ------------------------------------------------------------- the hook
    def before_train(self, runner) -> None:
        loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
        self._log_interval = loggers[0].interval if loggers else None
        self._since = time.time()
        # a monitor does not stop a training: without its images it is off,
        # and says so now rather than at the first probe
        missing = [osp.join(self.data_root, rel) for rel in (
            self.knn_bank, self.knn_query if self.knn_bank else None, self.label_ann)
            if rel is not None and not osp.isfile(osp.join(self.data_root, rel))]
        self.enabled = not missing
        if missing:
            print_log(f'OnlineProbeHook is off: {", ".join(missing)} not found (set '
                      'its data_root, knn_bank, knn_query, label_ann)',
                      logger='current', level=logging.WARNING)
        # a resumed MessageHub holds the values of the probe at the checkpoint's
        # iteration, logged by the run that saved it
        self._drop_values(runner)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        # The LoggerHook logged the previous iteration when batch_idx is a
        # multiple of its interval: the probe's values are in that record; drop
        # them so that the next records do not repeat them.
        if self._pending and (self._log_interval is None
                              or batch_idx % self._log_interval == 0):
            self._drop_values(runner)

    def _drop_values(self, runner) -> None:
        for key in (KNN_KEY, MAP_KEY, SECONDS_KEY):
            runner.message_hub.log_scalars.pop(key, None)
        self._pending = False

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if (not self.enabled or not self.every_n_train_iters(runner, self.interval)
                or not is_main_process()):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        start = time.time()
        results = self.probe(model)
        seconds = time.time() - start
        keys = dict(knn_top1=KNN_KEY, label_mAP=MAP_KEY)
        for name, value in results.items():
            runner.message_hub.update_scalar(keys[name], value)
        runner.message_hub.update_scalar(SECONDS_KEY, seconds)
        self._pending = True
        trained = start - self._since
        print_log(f'online probe at iteration {runner.iter + 1}: '
                  + ', '.join(f'{k} {v:.2f}' for k, v in results.items())
                  + f'; probe: {seconds:.1f} s, {100 * seconds / trained:.0f}% of the '
                  f'{trained:.0f} s since the last probe', logger='current')
        self._since = time.time()

    # ------------------------------------------------------------ the probe
    def probe(self, model: torch.nn.Module) -> Dict[str, float]:
        """The probe's metrics for ``model`` (a ``HybridPretrain``, unwrapped).
        Leaves the model exactly as it found it."""
        if self._data is None:
            self._data = self.load_data(model)
        flags = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with torch.no_grad():
                results = {}
                if 'bank' in self._data:
                    bank, bank_labels = self._data['bank']
                    query, query_labels = self._data['query']
                    results['knn_top1'] = knn_top1(
                        self.features(model, bank), bank_labels,
                        self.features(model, query), query_labels,
                        k=self.k, temperature=self.temperature)
                if 'scenes' in self._data:
                    scenes, targets = self._data['scenes']
                    results['label_mAP'] = label_map(
                        self.label_scores(model, scenes), targets)['all']['mAP']
        finally:
            # set, not model.train(): mmpretrain's Swin.train() re-freezes
            # stages, and modules kept in eval on purpose stay so
            for module, flag in flags:
                module.training = flag
        return results

    def _batches(self, model, images: torch.Tensor):
        for start in range(0, len(images), self.batch_size):
            data = model.data_preprocessor(
                dict(inputs=images[start:start + self.batch_size], data_samples=None),
                False)
            yield data['inputs']

    def features(self, model, images: torch.Tensor) -> torch.Tensor:
        """Globally pooled last-stage features (N, C) of BGR uint8 images."""
        return torch.cat([model.extract_feat(x)[-1].mean(dim=(2, 3)).float().cpu()
                          for x in self._batches(model, images)])

    def label_scores(self, model, images: torch.Tensor) -> torch.Tensor:
        """The multi-label head's scores (N, num_classes)."""
        return torch.cat([torch.stack([s.pred_score for s in model.predict(x)]).cpu()
                          for x in self._batches(model, images)])

    # ------------------------------------------------------------- the data
    def load_data(self, model) -> Dict[str, Tuple[torch.Tensor, torch.Tensor]]:
        """Images (N, 3, H, W BGR uint8, as mmcv loads them) and labels: kNN
        bank and queries (class indices), scenes (one-hot targets)."""
        data = {}
        if self.knn_bank is not None:
            data['bank'] = self._read_list(self.knn_bank, self.num_bank)
            data['query'] = self._read_list(self.knn_query, self.num_query)
        if self.label_ann is not None and 'multilabel' in getattr(model, 'tasks', ()):
            with open(osp.join(self.data_root, self.label_ann)) as f:
                ann = json.load(f)
            entries = ann['data_list'][:self.num_label]
            targets = multilabel_targets([e['gt_label'] for e in entries],
                                         len(ann['metainfo']['classes']))
            data['scenes'] = (self._read_images(
                [osp.join(self.data_root, self.label_prefix, e['img_path'])
                 for e in entries]), targets)
        print_log('OnlineProbeHook: ' + ', '.join(
            f'{name} {len(images)} images' for name, (images, _) in data.items()),
            logger='current')
        return data

    def _read_list(self, list_file: str, limit: int) -> Tuple[torch.Tensor, torch.Tensor]:
        with open(osp.join(self.data_root, list_file)) as f:
            entries = [line.split() for line in f if line.strip()][:limit]
        images = self._read_images(
            [osp.join(self.data_root, 'cls', rel) for rel, _ in entries])
        return images, torch.tensor([int(label) for _, label in entries])

    def _read_images(self, paths: List[str]) -> torch.Tensor:
        images = []
        for path in paths:
            img = cv2.imread(path, cv2.IMREAD_COLOR)  # BGR, 3 channels
            if img is None:
                raise FileNotFoundError(f'OnlineProbeHook: {path} is missing or not '
                                        'an image')
            if self.img_size is not None:
                img = cv2.resize(img, (self.img_size, self.img_size),
                                 interpolation=cv2.INTER_CUBIC)
            images.append(img.transpose(2, 0, 1))
        return torch.from_numpy(np.stack(images))
