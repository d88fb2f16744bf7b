"""ImageNet-21K-style synset folders + WordNet is_a -> hierarchical multi-label
annotation."""
import os
import os.path as osp
from collections import Counter, defaultdict, deque
from typing import Dict, List, Optional, Set

from ..partial_multi_label import AnnotationError
from .conversion import Conversion

IMG_EXTENSIONS = ('.jpeg', '.jpg', '.png')


class Hierarchy:
    """A WordNet ``is_a`` graph (a DAG: a synset may have several parents).

    Args:
        path (str): ``parent child`` per line (ImageNet's
            ``wordnet.is_a.txt``); blank lines and ``#`` comments are allowed.

    Raises:
        AnnotationError: for a malformed line or a cycle (naming it).
    """

    def __init__(self, path: str):
        self.parents: Dict[str, Set[str]] = defaultdict(set)
        self.children: Dict[str, Set[str]] = defaultdict(set)
        with open(path) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip() or line.lstrip().startswith('#'):
                    continue
                parts = line.split()
                if len(parts) != 2 or parts[0] == parts[1]:
                    raise AnnotationError(
                        f"'{path}', line {lineno}: expected 'parent child' "
                        f'(two different synsets), got {line.strip()!r}')
                parent, child = parts
                self.parents[child].add(parent)
                self.children[parent].add(child)
        nodes = set(self.parents) | set(self.children)
        roots = [n for n in nodes if not self.parents[n]]
        # depth: shortest distance from a root
        self.depth: Dict[str, int] = {n: 0 for n in roots}
        queue = deque(roots)
        while queue:
            node = queue.popleft()
            for child in self.children[node]:
                if child not in self.depth:
                    self.depth[child] = self.depth[node] + 1
                    queue.append(child)
        unreached = sorted(nodes - set(self.depth))
        if unreached:
            raise AnnotationError(
                f"'{path}': cycle in the is_a hierarchy through "
                f'{unreached[:5]}')
        self._ancestors: Dict[str, frozenset] = {}

    def __contains__(self, synset: str) -> bool:
        return synset in self.depth

    def ancestors(self, synset: str) -> frozenset:
        """All ancestors of ``synset`` (not itself), through every parent."""
        if synset not in self._ancestors:
            found: Set[str] = set()
            stack = list(self.parents.get(synset, ()))
            while stack:
                node = stack.pop()
                if node not in found:
                    found.add(node)
                    stack.extend(self.parents.get(node, ()))
            self._ancestors[synset] = frozenset(found)
        return self._ancestors[synset]


def convert_imagenet21k(root: str, is_a: str, min_depth: int = 0,
                        max_depth: Optional[int] = None, min_images: int = 1,
                        extensions=IMG_EXTENSIONS,
                        name: str = 'imagenet21k') -> Conversion:
    """Convert ``<root>/<wnid>/*.JPEG`` folders into hierarchical labels.

    Each image is labelled with its folder's synset and all of that synset's
    ancestors in the ``is_a`` hierarchy, as in ML-Images. The entries are
    fully labelled (every other class counts as negative; the merge tool turns
    that into "known within this source").

    Args:
        root (str): The folder of synset folders.
        is_a (str): The WordNet ``is_a`` file (``parent child`` per line).
        min_depth (int): Drop classes closer than this to a root of the
            hierarchy (depth 0 is ``entity``; the top levels say little).
            Defaults to 0 (keep all).
        max_depth (int, optional): Cut the hierarchy at this depth: deeper
            synsets are not classes, their images keep the ancestors at depth
            ``<= max_depth``. Defaults to None (no cut).
        min_images (int): Drop classes with fewer images than this (counted
            after adding ancestors and cutting). Images left without any
            class become unlabelled entries. Defaults to 1.
        extensions (Sequence[str]): Image file extensions, case-insensitive.
        name (str): The source's name in messages and summaries.

    Synset folders missing from the hierarchy keep their own label only,
    whatever the depth options (noted); non-image files are skipped with a
    reason.
    """
    hierarchy = Hierarchy(is_a)
    conversion = Conversion(name, [])
    images: List[tuple] = []
    missing = []
    for wnid in sorted(os.listdir(root)):
        folder = osp.join(root, wnid)
        if not osp.isdir(folder):
            conversion.skip(wnid, 'not a synset folder')
            continue
        if wnid not in hierarchy:
            missing.append(wnid)
        files = sorted(os.listdir(folder))
        if not files:
            conversion.skip(wnid, 'empty synset folder')
        for file in files:
            if not file.lower().endswith(tuple(extensions)):
                conversion.skip(f'{wnid}/{file}', 'not an image file')
                continue
            images.append((f'{wnid}/{file}', wnid))
    if missing:
        conversion.note(f'{len(missing)} synset folders not in the is_a '
                        f'hierarchy (labelled with themselves only): '
                        f'{missing[:10]}')

    def depth(synset):
        return hierarchy.depth.get(synset, 0)

    label_sets: Dict[str, frozenset] = {}
    for wnid in {w for _, w in images}:
        if wnid not in hierarchy:
            label_sets[wnid] = frozenset([wnid])
            continue
        synsets = hierarchy.ancestors(wnid) | {wnid}
        label_sets[wnid] = frozenset(
            s for s in synsets if depth(s) >= min_depth and (
                max_depth is None or depth(s) <= max_depth))
    counts = Counter()
    for _, wnid in images:
        counts.update(label_sets[wnid])
    dropped = sorted(s for s, c in counts.items() if c < min_images)
    if dropped:
        conversion.note(f'{len(dropped)} classes with fewer than {min_images} '
                        f'images dropped: {dropped[:10]}')
    classes = sorted(s for s, c in counts.items() if c >= min_images)
    conversion.classes = classes
    index = {s: i for i, s in enumerate(classes)}
    for img_path, wnid in images:
        labels = sorted(index[s] for s in label_sets[wnid] if s in index)
        if not labels:
            conversion.skip(img_path, 'no class left after the depth cut / '
                            'min_images (kept as unlabelled)')
        conversion.data_list.append(dict(img_path=img_path, gt_label=labels))
    return conversion
