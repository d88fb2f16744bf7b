# Copyright (c) OpenMMLab. All rights reserved. Adapted for mmhybrid.
"""Train a model from a config: pre-training (mmpretrain scope) or the downstream
mmpretrain / mmdet / mmseg configs, whose ``default_scope`` picks the library."""
import argparse
import os
import os.path as osp

os.environ.setdefault('HF_HUB_OFFLINE', '1')  # nothing is fetched from a hub

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import mmhybrid  # noqa: E402,F401  (registers modules)
from mmhybrid.engine import adapt_cfg_for_cpu, init_cpu_process_group  # noqa: E402
from mmhybrid.engine.hooks import FinalMetricsHook  # noqa: E402
from mmhybrid.utils.checkpoint_loading import safe_mmengine_checkpoints  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or, without a path, from the latest '
        'checkpoint in the work directory')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (GPU only; fp32 on CPU)')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not evaluate checkpoints during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr by actual / base batch size')
    parser.add_argument('--no-pin-memory', action='store_true')
    parser.add_argument('--no-persistent-workers', action='store_true')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (e.g. '
        'train_cfg.max_iters=10 model.backbone.arch=tiny)')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument(
        '--final-metrics', metavar='JSON',
        help='after training, write the final model\'s metrics on the val and '
        'test dataloaders the config has here as {"val": ..., "test": ...} '
        '(the last validation is reused when it ran on the final weights)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_args(cfg, args):
    """Merge command-line arguments into the config (as mmpretrain's train.py)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.no_validate:  # after the options, which may set val loader fields
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    for field in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(field)
        if loader is None:
            continue
        if cfg.get('default_scope', 'mmpretrain') == 'mmpretrain':
            # mmpretrain stacks equally sized images; mmdet / mmseg keep
            # mmengine's pseudo_collate
            loader.setdefault('collate_fn', dict(type='default_collate'))
        if args.no_pin_memory:
            loader['pin_memory'] = False
        if args.no_persistent_workers or loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False
    return cfg


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    cfg = adapt_cfg_for_cpu(cfg)
    init_cpu_process_group(cfg.launcher)
    runner = Runner.from_cfg(cfg) if 'runner_type' not in cfg else RUNNERS.build(cfg)
    final_metrics = None
    if args.final_metrics:
        final_metrics = FinalMetricsHook(args.final_metrics)
        runner.register_hook(final_metrics)
    # --resume, load_from and Pretrained inits read mmengine checkpoints with
    # torch's safe loader, mmengine's classes allow-listed
    with safe_mmengine_checkpoints():
        runner.train()
        if final_metrics is not None:
            final_metrics.write(runner, cfg)


if __name__ == '__main__':
    main()
