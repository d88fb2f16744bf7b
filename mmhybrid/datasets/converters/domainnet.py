"""DomainNet-style ``<domain>/<class>/<file>`` + split lists -> class and
domain labels in one label space."""
import os.path as osp
from typing import Optional, Sequence

from ..partial_multi_label import AnnotationError
from .conversion import Conversion


def convert_domainnet(root: str, split_files: Sequence[str],
                      domains: Optional[Sequence[str]] = None,
                      domain_prefix: str = '', check_files: bool = False,
                      name: str = 'domainnet') -> Conversion:
    """Label each image with its object class and its domain (image type).

    The split lists are DomainNet's ``<domain>_<split>.txt``: one
    ``<domain>/<class>/<file> <class index>`` per line, paths relative to
    ``root``. The label space is the object classes (sorted) followed by the
    domains (sorted, each optionally prefixed with ``domain_prefix``), so an
    image of a sketched bicycle is positive for ``bicycle`` and ``sketch``.
    DomainNet gives each image exactly one class and one domain: the entries
    are fully labelled.

    Args:
        root (str): The data root (for ``check_files``).
        split_files (Sequence[str]): The split lists to read (e.g. every
            domain's ``*_train.txt``).
        domains (Sequence[str], optional): Keep only these domains. Defaults
            to all.
        domain_prefix (str): Prefix of the domain class names, needed when a
            domain's name is also an object class's. Defaults to ''.
        check_files (bool): Skip lines whose image file is missing. Defaults
            to False.
        name (str): The source's name in messages and summaries.

    Skipped with a reason: malformed lines, paths not of the form
    ``<domain>/<class>/<file>``, domains not selected, images listed twice, a
    class index that disagrees with the one the class had before, missing
    files (with ``check_files``).
    """
    conversion = Conversion(name, [])
    keep = set(domains) if domains else None
    rows, seen, class_ids = [], set(), {}
    for split_file in split_files:
        base = osp.basename(split_file)
        with open(split_file) as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                where = f'{base}:{lineno}'
                parts = line.split()
                if len(parts) != 2 or not parts[1].lstrip('-').isdigit():
                    conversion.skip(where, "malformed line (not 'path "
                                    "class_index')")
                    continue
                path, class_id = parts[0], int(parts[1])
                pieces = path.split('/')
                if len(pieces) != 3 or not all(pieces):
                    conversion.skip(where, 'path is not <domain>/<class>/'
                                    '<file>')
                    continue
                domain, cls, _ = pieces
                if keep is not None and domain not in keep:
                    conversion.skip(where, 'domain not selected')
                    continue
                if path in seen:
                    conversion.skip(where, 'image listed twice')
                    continue
                if class_ids.setdefault(cls, class_id) != class_id:
                    conversion.skip(where, 'class index disagrees with the '
                                    "class's earlier index")
                    continue
                if check_files and not osp.isfile(osp.join(root, path)):
                    conversion.skip(where, 'image file missing')
                    continue
                seen.add(path)
                rows.append((path, cls, domain))

    object_classes = sorted({cls for _, cls, _ in rows})
    domain_classes = sorted({domain_prefix + d for _, _, d in rows})
    clash = sorted(set(object_classes) & set(domain_classes))
    if clash:
        raise AnnotationError(
            f'{split_files}: domain name(s) {clash} are also object classes; '
            'give a domain_prefix (e.g. "domain:")')
    conversion.classes = object_classes + domain_classes
    index = {c: i for i, c in enumerate(conversion.classes)}
    for path, cls, domain in rows:
        conversion.data_list.append(dict(
            img_path=path,
            gt_label=[index[cls], index[domain_prefix + domain]]))
    return conversion
