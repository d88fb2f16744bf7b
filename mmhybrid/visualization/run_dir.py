"""What a training run directory holds: logged scalars, its config, checkpoints."""
import glob
import json
import os.path as osp
import re
from typing import Dict, List, Optional

from mmengine.config import Config


class RunDir:
    """A work directory written by ``tools/train.py`` (mmengine's layout)::

        RUN_DIR/
          <timestamp>/vis_data/scalars.json   one JSON record per log line
          <timestamp>/vis_data/config.py      the run's config, options merged
          iter_N.pth | epoch_N.pth, last_checkpoint

    A resumed run has one ``<timestamp>/`` per session; :attr:`train_records`
    joins them (a later session's record replaces an earlier one of the same
    iteration).

    Args:
        path (str): The run directory.
    """

    def __init__(self, path: str) -> None:
        if not osp.isdir(path):
            raise FileNotFoundError(f'{path} is not a directory')
        self.path = path
        self.sessions = sorted(glob.glob(osp.join(path, '*', 'vis_data')))

    # ------------------------------------------------------------- scalars
    def records(self) -> List[dict]:
        """Every logged record of every session, in order."""
        out = []
        for session in self.sessions:
            scalars = osp.join(session, 'scalars.json')
            if osp.isfile(scalars):
                with open(scalars) as f:
                    out += [json.loads(line) for line in f if line.strip()]
        return out

    def train_records(self) -> List[dict]:
        """Training records (they carry ``iter``, the global iteration), one per
        iteration, in iteration order."""
        by_iter: Dict[int, dict] = {}
        for record in self.records():
            if 'iter' in record:
                by_iter[record['iter']] = record
        return [by_iter[i] for i in sorted(by_iter)]

    # -------------------------------------------------------------- config
    def config(self) -> Optional[Config]:
        """The config of the newest session (None when there is none)."""
        for session in reversed(self.sessions):
            path = osp.join(session, 'config.py')
            if osp.isfile(path):
                return Config.fromfile(path)
        return None

    @property
    def kind(self) -> str:
        """``'pretrain'`` (HybridPretrain), ``'detection'`` (mmdet),
        ``'segmentation'`` (mmseg), ``'classification'`` (mmpretrain) or
        ``'unknown'``."""
        cfg = self.config()
        if cfg is None:
            return 'unknown'
        if cfg.model.get('type') == 'HybridPretrain':
            return 'pretrain'
        return dict(mmdet='detection', mmseg='segmentation',
                    mmpretrain='classification').get(cfg.get('default_scope'), 'unknown')

    # --------------------------------------------------------- checkpoints
    def checkpoint(self) -> Optional[str]:
        """The latest checkpoint: ``last_checkpoint``'s, else the highest
        ``iter_N.pth`` / ``epoch_N.pth``."""
        pointer = osp.join(self.path, 'last_checkpoint')
        if osp.isfile(pointer):
            with open(pointer) as f:
                path = f.read().strip()
            # written as the training saw it: maybe relative to another cwd
            for candidate in (path, osp.join(self.path, osp.basename(path))):
                if osp.isfile(candidate):
                    return candidate
        numbered = [(int(m.group(1)), p) for p in glob.glob(osp.join(self.path, '*.pth'))
                    for m in [re.search(r'(?:iter|epoch)_(\d+)\.pth$', p)] if m]
        return max(numbered)[1] if numbered else None

    def resolve(self, path: str) -> Optional[str]:
        """A path of the config (``data_root``, ...) as the training saw it:
        absolute, relative to the current directory, or relative to a parent of
        the run directory (``<cwd>/work_dirs/<name>``: the training's cwd)."""
        if osp.isabs(path) or osp.exists(path):
            return path if osp.exists(path) else None
        parent = osp.abspath(self.path)
        while True:
            if osp.exists(osp.join(parent, path)):
                return osp.join(parent, path)
            if osp.dirname(parent) == parent:
                return None
            parent = osp.dirname(parent)
