"""Methods x seeds x evaluations, resumable: one JSON per finished (method, seed).

Each unit ``<method>-s<seed>``:

1. pre-trains with ``tools/train.py`` (one run per stage of the method), then
   exports the backbone with ``extract_backbone``;
2. runs the frozen kNN / linear probes in-process (:mod:`.frozen_probe`);
3. trains and evaluates each downstream config with
   ``tools/train.py --final-metrics`` (validation and test split);
4. writes ``<results>/ablation/<method>-s<seed>.json`` at once.

Every step leaves its output in ``<work_dir>/<method>-s<seed>/`` and is skipped
when that output exists, so a killed run resumes at the step it was in. Each step
has its own key, so a changed step reruns only itself and what reads it: the
pre-training goes to ``pretrain-<pretrain hash>/`` (its configs), the probes to
``probes-<hash>/`` and each evaluation to ``<name>-<hash>/`` (the pre-training
hash, the step's resolved config and options). A result record carries the
unit's ``config_hash`` over all of them.

A run may leave out downstream evaluations (``evaluations``): a screening pass
(pre-training, probes, fine-tune) whose steps a later full run in the same work
directory reuses. Its records hold only those metrics and have their own
``config_hash``, so they go to their own results directory.

A label budget (``Protocol.label_fraction`` below one) changes only the
methods that read labels (``methods.uses_labels``); the label-free methods'
pre-training is the same at every budget, so their records at full labels
serve for all budgets and a run at a budget refuses them. Its records go to
their own results directory.

Held-out classes (``Protocol.held_out_classes``, issue #27): the pre-training
labels never name those garments (their object images stay in the pool,
unlabelled: ``splits.held_out_splits``) and the probes also report the
known and the held-out classes apart (``protocol.HELD_OUT_METRICS``). Only the
methods that read labels pre-train anew; a label-free method keeps its
pre-training key (the work dir's weights are reused) but runs its probes
again for the new metrics, so every method runs, into a results directory of
its own (the records' ``config_hash`` differs from the full-label ones').
With a label budget as well, the known garments keep the budget's labels
only, and the label-free methods' held-out records at full labels serve (a
run at a budget refuses them, as above).
"""
import hashlib
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from mmhybrid.apis.tool_runs import latest_checkpoint, run_tool
from .frozen_probe import run_frozen_probes
from .methods import (ALL_METHODS, PRETRAIN_CONFIG, TUNING, Method, base_of,
                      stage_configs, uses_labels)
from .protocol import FINETUNE_CONFIG, Evaluation, Protocol, evaluations_for
from .splits import held_out_splits, label_budget_splits, make_splits

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGES = ('torch', 'mmengine', 'mmcv', 'mmpretrain', 'mmdet', 'mmseg', 'timm',
            'mmhybrid')


def package_versions() -> Dict[str, str]:
    import importlib
    return {name: getattr(importlib.import_module(name), '__version__', '?')
            for name in PACKAGES}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolved_text(config: str) -> str:
    """The config after inheritance, as text."""
    return Config.fromfile(osp.join(REPO, config)).pretty_text


def write_json(path: str, data: dict) -> None:
    """Write ``data`` atomically (a killed run leaves no half file)."""
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def _no_detection_splits(metrics: dict, ev: Evaluation) -> List[str]:
    """The splits on which a COCO evaluation returned nothing: mmdet's
    ``CocoMetric`` reports no metric at all when the model detected nothing on
    the whole split ("The testing results of the whole dataset is empty"), a
    COCO AP of 0 by definition (an untrained detector, the toy runs)."""
    coco = all(key.startswith('coco/') for key in ev.metrics.values())
    return [split for split in ('val', 'test') if coco and metrics.get(split) == {}]


class AblationRun:
    """One benchmark run over methods and seeds.

    Args:
        protocol (Protocol): Budgets (``FULL`` or ``QUICK``).
        results_dir (str): Where ``ablation/<method>-s<seed>.json`` go.
        work_dir (str): Where each unit's checkpoints and logs go.
        data_root (str): The demo world; the downstream configs read it as
            ``data/fashion_demo/`` relative to the working directory.
        python (str): Interpreter for the tool subprocesses.
        log (callable): Progress lines.
        evaluations (Sequence[str], optional): Names of the downstream
            evaluations to run (``evaluations_for`` the protocol's dense scenes;
            default all but the opt-in ones). The frozen probes always run.
    """

    def __init__(self, protocol: Protocol, results_dir: str = 'results',
                 work_dir: str = 'work_dirs/ablation',
                 data_root: str = 'data/fashion_demo', python: str = sys.executable,
                 log: Callable[[str], None] = print,
                 evaluations: Optional[Sequence[str]] = None) -> None:
        self.protocol = protocol
        every = evaluations_for(protocol.dense_scenes,
                                protocol.finetuned_detection_iters,
                                protocol.finetuned_segmentation_iters,
                                protocol.finetuned_detection_heads)
        known = [ev.name for ev in every]
        unknown = sorted(set(evaluations or ()) - set(known))
        if unknown:
            raise ValueError(f'unknown evaluations {unknown} for the dense scene set '
                             f'{protocol.dense_scenes!r}; known: {known}')
        self.evaluations = [ev for ev in every if (
            not ev.opt_in if evaluations is None else ev.name in evaluations)]
        self.results_dir = results_dir
        self.unit_results = osp.join(results_dir, 'ablation')
        self.work_dir = work_dir
        self.data_root = data_root
        self.python = python
        self.log = log
        if not osp.isfile(osp.join(data_root, 'build_info.json')):
            raise FileNotFoundError(
                f'{data_root} holds no demo world (build_info.json); build it with '
                f'tools/dataset_converters/build_fashion_demo.py --out {data_root}')
        dense = {ev.name for ev in self.evaluations if ev.name != 'finetune'}
        scenes = osp.join(data_root, f'scenes_{protocol.dense_scenes}')
        if protocol.dense_scenes and dense and not osp.isdir(scenes):
            # a rebuild keeps only the sets it names: name the ones built already
            with open(osp.join(data_root, 'build_info.json')) as f:
                built = json.load(f).get('params', {}).get('dense_scenes', '')
            names = [n for n in built.split(',') if n and n != protocol.dense_scenes]
            raise FileNotFoundError(
                f'{scenes} is missing: the dense protocol {protocol.dense_scenes!r} '
                f'trains {" and ".join(sorted(dense))} on it; build it with '
                f'tools/dataset_converters/build_fashion_demo.py --out {data_root} '
                f'--dense-scenes {",".join(names + [protocol.dense_scenes])}')
        self.splits = make_splits(data_root)
        if protocol.label_fraction < 1:
            label_budget_splits(data_root, protocol.label_fraction)
        if protocol.held_out_classes:
            held_out_splits(data_root, protocol.held_out_classes,
                            protocol.label_fraction)

    # --------------------------------------------------------------- identity
    def pretrain_hash(self, method: Method) -> str:
        """Changes whenever anything that defines the pre-trained weights
        changes: the method and its stage configs (budget included)."""
        parts = [json.dumps(method.identity(), sort_keys=True, default=str)]
        parts += [cfg.pretty_text for cfg in self._stage_configs(method, seed=0)]
        return _sha('\n'.join(parts))

    def probes_hash(self, method: Method) -> str:
        """The frozen probes' key: the weights, the probe budgets, the
        held-out classes they also report apart (only when there are any: the
        earlier probes keep their key) and the classification config whose
        pipeline they read."""
        budgets = dict(limit=self.protocol.probe_limit,
                       linear_epochs=self.protocol.linear_epochs)
        if self.protocol.held_out_classes:
            budgets['held_out_classes'] = list(self.protocol.held_out_classes)
        return _sha('\n'.join([
            self.pretrain_hash(method), json.dumps(budgets),
            _resolved_text(FINETUNE_CONFIG)]))

    def evaluation_hash(self, method: Method, ev: Evaluation) -> str:
        """One evaluation's key: the weights, its resolved config (an edit of a
        base config counts, a refactor that builds the same config does not),
        its options and the metrics it reports."""
        return _sha('\n'.join([
            self.pretrain_hash(method), ev.config, _resolved_text(ev.config),
            json.dumps(ev.metrics), json.dumps(ev.options), str(ev.scale),
            json.dumps(self.protocol.eval_options.get(ev.name, []))]))

    def config_hash(self, method: Method) -> str:
        """Changes whenever anything that defines the unit's numbers changes: the
        protocol, the method, the pre-training and downstream configs."""
        parts = [json.dumps(self.protocol.as_dict(), sort_keys=True),
                 self.pretrain_hash(method), self.probes_hash(method)]
        parts += [self.evaluation_hash(method, ev) for ev in self.evaluations]
        return _sha('\n'.join(parts))

    def result_path(self, method: str, seed: int) -> str:
        return osp.join(self.unit_results, f'{method}-s{seed}.json')

    def _stage_configs(self, method: Method, seed: int):
        return stage_configs(method, self.protocol.pretrain_iters,
                             self.protocol.pretrain_batch, seed,
                             self.splits['pretrain_partial'],
                             data_root=self.data_root.rstrip('/') + '/',
                             base_config=osp.join(REPO, PRETRAIN_CONFIG),
                             label_fraction=self.protocol.label_fraction,
                             held_out_classes=self.protocol.held_out_classes)

    def images_seen(self, method: Method) -> int:
        """The images ``method``'s pre-training reads: the protocol's
        ``iters x batch`` for every method but one whose stages grow their
        batch (``Method.full_labelled_batch``, ``Method.batch_scale``)."""
        return sum(cfg.train_cfg.max_iters * cfg.train_dataloader.batch_size
                   for cfg in self._stage_configs(method, seed=0))

    # ------------------------------------------------------------------ steps
    def _tool(self, args: Sequence[str], log_path: str) -> float:
        return run_tool([self.python, *args], log_path, cwd=None,
                        env=dict(os.environ, HF_HUB_OFFLINE='1'))

    def _pretrain(self, method: Method, seed: int, pretrain_dir: str) -> Dict[str, float]:
        """Run (or resume) the stages; return the last stage's checkpoint (None
        without pre-training) and the summed wall time."""
        wall, checkpoint = 0., None
        for i, cfg in enumerate(self._stage_configs(method, seed)):
            stage_dir = osp.join(pretrain_dir, f'pretrain_stage{i + 1}')
            done = osp.join(stage_dir, 'done.json')
            if osp.isfile(done):
                with open(done) as f:
                    info = json.load(f)
                wall += info['wall_s']
                checkpoint = info['checkpoint']
                continue
            os.makedirs(stage_dir, exist_ok=True)
            if checkpoint is not None:  # the previous stage's weights
                cfg.load_from = checkpoint
            config_path = osp.join(stage_dir, 'config.py')
            cfg.dump(config_path)
            self.log(f'  pre-training stage {i + 1}/{len(method.stages)}: '
                     f'{cfg.train_cfg.max_iters} iterations')
            seconds = self._tool([osp.join(REPO, 'tools/train.py'), config_path,
                                  '--work-dir', stage_dir],
                                 osp.join(stage_dir, 'train.log'))
            checkpoint = latest_checkpoint(stage_dir)
            write_json(done, dict(wall_s=seconds, checkpoint=checkpoint))
            wall += seconds
        return dict(wall_s=wall, checkpoint=checkpoint)

    def _export(self, checkpoint: Optional[str], pretrain_dir: str) -> Optional[str]:
        if checkpoint is None:
            return None
        backbone = osp.join(pretrain_dir, 'backbone.pth')
        if not osp.isfile(backbone):
            self._tool([osp.join(REPO, 'tools/model_converters/extract_backbone.py'),
                        checkpoint, backbone], osp.join(pretrain_dir, 'extract.log'))
        return backbone

    def _probes(self, backbone: Optional[str], seed: int, probe_dir: str) -> dict:
        path = osp.join(probe_dir, 'probes.json')
        if osp.isfile(path):
            with open(path) as f:
                return json.load(f)
        start = time.time()
        out = run_frozen_probes(self.data_root, self.splits,
                                osp.join(REPO, FINETUNE_CONFIG), backbone, seed,
                                limit=self.protocol.probe_limit,
                                linear_epochs=self.protocol.linear_epochs,
                                held_out_classes=self.protocol.held_out_classes)
        out['wall_s'] = time.time() - start
        os.makedirs(probe_dir, exist_ok=True)
        write_json(path, out)
        return out

    def _evaluate(self, ev: Evaluation, backbone: Optional[str], seed: int,
                  eval_dir: str) -> dict:
        path = osp.join(eval_dir, 'final_metrics.json')
        tool_out = osp.join(eval_dir, 'tool_metrics.json')
        if not osp.isfile(path):
            os.makedirs(eval_dir, exist_ok=True)
            init = (f'model.backbone.init_cfg.checkpoint={backbone}' if backbone else
                    'model.backbone.init_cfg=None')
            options = [init, f'randomness.seed={seed}',
                       *self.protocol.eval_options.get(ev.name, []), *ev.options]
            self.log(f'  {ev.name}: {osp.basename(ev.config)}')
            seconds = self._tool(
                [osp.join(REPO, 'tools/train.py'), osp.join(REPO, ev.config),
                 '--work-dir', eval_dir, '--final-metrics', tool_out,
                 '--cfg-options', *options], osp.join(eval_dir, 'train.log'))
            with open(tool_out) as f:
                metrics = json.load(f)
            for split in _no_detection_splits(metrics, ev):
                self.log(f'  {ev.name}: no detection on the whole {split} split '
                         '(mmdet reports no metric): AP 0')
                metrics[split] = {key: 0. for key in ev.metrics.values()}
                metrics.setdefault('no_detections', []).append(split)
            missing = {split: [k for k in ev.metrics.values() if k not in metrics[split]]
                       for split in ('val', 'test')}
            if any(missing.values()):
                raise KeyError(f'{tool_out} lacks the metrics {missing}')
            metrics['wall_s'] = seconds
            write_json(path, metrics)
        with open(path) as f:
            raw = json.load(f)
        out = {split: {name: raw[split][key] * ev.scale
                       for name, key in ev.metrics.items()}
               for split in ('val', 'test')}
        out['wall_s'] = raw['wall_s']
        return out

    # ------------------------------------------------------------------- unit
    def run_unit(self, method_name: str, seed: int) -> dict:
        """Run (or resume) one method and seed; return its result record."""
        method = ALL_METHODS[method_name]
        config_hash = self.config_hash(method)
        result_path = self.result_path(method_name, seed)
        if osp.isfile(result_path):
            with open(result_path) as f:
                record = json.load(f)
            if record['config_hash'] == config_hash:
                self.log(f'{method_name}-s{seed}: done ({result_path}), skipped')
                return record
            raise RuntimeError(
                f'{result_path} was made with config hash {record["config_hash"]}, '
                f'the current protocol is {config_hash}: move it (and '
                f'{self.work_dir}/{method_name}-s{seed}) away to rerun')
        # every step has its own key (module docstring): a changed step reruns alone
        method_dir = osp.join(self.work_dir, f'{method_name}-s{seed}')
        pretrain_dir = osp.join(method_dir, 'pretrain-' + self.pretrain_hash(method))
        self.log(f'{method_name}-s{seed}: {method.description}')
        pre = self._pretrain(method, seed, pretrain_dir)
        backbone = self._export(pre['checkpoint'], pretrain_dir)
        probes = self._probes(backbone, seed, osp.join(
            method_dir, 'probes-' + self.probes_hash(method)))
        wall = dict(pretrain=pre['wall_s'], probes=probes['wall_s'])
        metrics = dict(probes['test'])
        val_metrics = dict(probes['val'])
        for ev in self.evaluations:
            out = self._evaluate(ev, backbone, seed, osp.join(
                method_dir, f'{ev.name}-{self.evaluation_hash(method, ev)}'))
            metrics.update(out['test'])
            val_metrics.update(out['val'])
            wall[ev.name] = out['wall_s']
        record = dict(
            method=method_name, seed=seed, config_hash=config_hash,
            pretrain_hash=self.pretrain_hash(method),
            description=method.description,
            images_seen=self.images_seen(method),
            label_fraction=self.protocol.label_fraction,
            held_out_classes=list(self.protocol.held_out_classes),
            evaluations=['probes'] + [ev.name for ev in self.evaluations],
            protocol=self.protocol.as_dict(), versions=package_versions(),
            machine=f'{platform.machine()}, {os.cpu_count()} CPUs, '
                    f'{platform.python_implementation()} {platform.python_version()}',
            finished=time.strftime('%Y-%m-%d %H:%M:%S'),
            wall_s=wall, metrics=metrics, val_metrics=val_metrics,
            probe_choice=probes['choice'])
        os.makedirs(self.unit_results, exist_ok=True)
        write_json(result_path, record)
        self.log(f'{method_name}-s{seed}: ' + ', '.join(
            f'{k} {v:.2f}' for k, v in metrics.items()))
        return record

    def run(self, methods: Sequence[str], seeds: Sequence[int]) -> List[dict]:
        """Seed-major: every method once before any method twice, so a partial
        run already gives a complete table for the first seeds."""
        unknown = [m for m in methods if m not in ALL_METHODS]
        if unknown:
            raise ValueError(f'unknown methods {unknown}; known: {list(ALL_METHODS)}')
        # the report judges a tried change against its base: a name without
        # one is refused now, not after its pre-training when the report is due
        for m in methods:
            if m in TUNING:
                base_of(m)
        # (held-out classes refuse none: every method's probes report them)
        label_free = [m for m in methods if not uses_labels(ALL_METHODS[m])]
        if self.protocol.label_fraction < 1 and label_free:
            raise ValueError(f'{label_free} read no labels: their records at full '
                             'labels serve for every label budget (module docstring)')
        return [self.run_unit(m, s) for s in seeds for m in methods]
