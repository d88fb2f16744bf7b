"""Decode any image file into a 3-channel uint8 array, or say why it can't."""
import io
import logging
import multiprocessing
from multiprocessing import context as mp_context
from typing import Optional

import cv2
import mmcv
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageOps, UnidentifiedImageError


class CorruptImageError(OSError):
    """An image file exists but cannot be decoded (empty, truncated, not an
    image). The message names the file and the reason."""


def _to_uint8_rgb(img: Image.Image) -> np.ndarray:
    """Convert a decoded PIL image of any mode to an HxWx3 uint8 RGB array.

    16-bit and 32-bit integer images are scaled from [0, 65535] to [0, 255]
    (PNG stores 16 bits per sample; ``I`` is how Pillow opens them). Float
    images are clipped to [0, 255]. Alpha is dropped, as OpenCV does for
    ``LoadImageFromFile``.
    """
    mode = img.mode
    if mode.startswith('I;16') or mode == 'I':
        arr = np.asarray(img).astype(np.float32)
        gray = np.clip(np.rint(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == 'F':
        gray = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode != 'RGB':
        # L, LA, 1, P, PA, RGBA, RGBX, CMYK, YCbCr, LAB, HSV: Pillow converts
        # (Adobe CMYK JPEGs are un-inverted by the JPEG decoder already).
        img = img.convert('RGB')
    return np.asarray(img)


def _warn_if_large(img: Image.Image, filename: str) -> None:
    """Log a WARNING naming the file when Pillow's own decompression bomb
    warning applies (its message does not name the file, and by default it is
    shown once per process)."""
    limit = Image.MAX_IMAGE_PIXELS
    pixels = img.width * img.height
    if limit is not None and pixels > limit:
        print_log(
            f"image '{filename}' has {pixels} pixels ({img.width}x{img.height}),"
            f' more than PIL.Image.MAX_IMAGE_PIXELS ({limit}): decoding it '
            f'anyway (images over {2 * limit} pixels are refused)',
            logger='current', level=logging.WARNING)


DECODERS = ('cv2', 'pillow')


def decode_image(img_bytes: bytes, filename: str, channel_order: str = 'rgb',
                 backend: str = 'cv2') -> np.ndarray:
    """Decode image bytes strictly to an HxWx3 uint8 array.

    The file is checked by Pillow, which decodes it completely: truncation is
    detected (``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default
    ``False``); OpenCV would fill a truncated JPEG with grey and only print a
    warning. The pixels then come from ``backend``:

    - ``'cv2'`` (default): OpenCV, exactly as mmcv's ``LoadImageFromFile``
      decodes by default and so as the downstream configs read images
      (``mmcv.imfrombytes(flag='color', backend='cv2')``: EXIF orientation
      applied, alpha dropped, 16-bit scaled to 8 by dropping the low byte). A
      file is thus decoded twice. Formats OpenCV cannot read fall back to
      Pillow's decode, converted as below.
    - ``'pillow'``: Pillow's decode, converted to 3 channels (16-bit scaled by
      1/257 and rounded, CMYK and palettes converted by Pillow, EXIF
      orientation applied); one decode, but JPEG, CMYK and 16-bit pixels can
      differ from OpenCV's by a level or more.

    Decompression bombs: an image of more than twice ``PIL.Image.
    MAX_IMAGE_PIXELS`` pixels (a few hundred KB of PNG can claim 20000x20000)
    is refused with :class:`CorruptImageError`, before any pixel is decoded
    (Pillow's ``DecompressionBombError``; so is its ``DecompressionBombWarning``
    where a warnings filter turns it into an error). Between once and twice the
    limit, Pillow only warns and the image is decoded; a WARNING naming the file
    is logged as well. Raise or lower ``PIL.Image.MAX_IMAGE_PIXELS`` to move
    the limit (``None`` disables the check).

    Args:
        img_bytes (bytes): The file content.
        filename (str): The file name, for error messages.
        channel_order (str): ``'rgb'`` (default) or ``'bgr'``.
        backend (str): ``'cv2'`` (default) or ``'pillow'``, see above.

    Returns:
        np.ndarray: HxWx3 uint8 array in ``channel_order``.
    """
    if backend not in DECODERS:
        raise ValueError(f'backend must be one of {DECODERS}, got {backend!r}')
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                         f'{channel_order!r}')
    if len(img_bytes) == 0:
        raise CorruptImageError(f"cannot load image '{filename}': the file is "
                                'empty (0 bytes)')
    try:
        with Image.open(io.BytesIO(img_bytes)) as img:
            _warn_if_large(img, filename)
            img.load()
            arr = None
            if backend == 'cv2':
                arr = _cv2_decode(img_bytes)
            if arr is None:
                arr = _to_uint8_rgb(ImageOps.exif_transpose(img))
                if channel_order == 'bgr':
                    arr = _swap_red_blue(arr)
            elif channel_order == 'rgb':
                arr = _swap_red_blue(arr)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        # not an OSError: Pillow's message alone would not name the file
        raise CorruptImageError(
            f"cannot load image '{filename}': refused as a possible "
            f'decompression bomb ({type(e).__name__}: {e} The limit follows '
            'PIL.Image.MAX_IMAGE_PIXELS.)') from e
    except UnidentifiedImageError:
        raise CorruptImageError(
            f"cannot load image '{filename}': not a known image format "
            f'({len(img_bytes)} bytes)') from None
    except (OSError, SyntaxError, ValueError) as e:
        # Pillow reports truncated or corrupt data as OSError ("image file is
        # truncated", zlib errors), bad headers as SyntaxError.
        raise CorruptImageError(
            f"cannot load image '{filename}': corrupt or truncated "
            f'({type(e).__name__}: {e})') from e
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.size == 0:
        raise CorruptImageError(f"cannot load image '{filename}': decoded to "
                                f'an unusable array of shape {arr.shape}')
    return arr


def _swap_red_blue(arr: np.ndarray) -> np.ndarray:
    """RGB <-> BGR as a new contiguous array: ``cv2.cvtColor`` is ~80x
    faster than copying the strided view ``arr[:, :, ::-1]`` (1.2 ms vs
    0.015 ms at 500x375, ``tools/benchmarks/pipeline_rate.py``)."""
    return cv2.cvtColor(np.ascontiguousarray(arr), cv2.COLOR_RGB2BGR)


def _cv2_decode(img_bytes: bytes) -> Optional[np.ndarray]:
    """BGR pixels as mmcv's ``LoadImageFromFile`` decodes them by default;
    None where OpenCV cannot read the format."""
    try:
        img = mmcv.imfrombytes(img_bytes, flag='color', backend='cv2')
    except cv2.error:
        return None
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        return None
    return img


def _new_value(value: int):
    return multiprocessing.get_context('spawn').Value('q', value)


class _SharedCounter:
    """An integer shared by the main process and its data loader workers.

    Workers started by ``fork`` inherit the shared memory; ``spawn`` and
    ``forkserver`` workers receive it through the process start-up pickle (the
    lock is made in the spawn context, which all three start methods accept).
    Any other pickle or deep copy gets a fresh counter starting at the current
    value.
    """

    def __init__(self, value: int = 0) -> None:
        self._value = _new_value(value)

    def increment(self) -> int:
        with self._value.get_lock():
            self._value.value += 1
            return self._value.value

    @property
    def value(self) -> int:
        return self._value.value

    def __getstate__(self):
        if mp_context.get_spawning_popen() is not None:
            return {'shared': self._value}
        return {'snapshot': self.value}

    def __setstate__(self, state):
        if 'shared' in state:
            self._value = state['shared']
        else:
            self._value = _new_value(state['snapshot'])


@TRANSFORMS.register_module()
class LoadImageRobust(BaseTransform):
    """Load an image file of any common kind as a 3-channel uint8 image.

    A drop-in replacement for ``LoadImageFromFile`` that is strict about broken
    files and lenient about image kinds:

    - a missing file raises ``FileNotFoundError``; an empty, truncated or
      corrupt file, or a decompression bomb (more than twice
      ``PIL.Image.MAX_IMAGE_PIXELS`` pixels, see :func:`decode_image`), raises
      :class:`CorruptImageError`; both name the file and the reason;
    - grayscale, palette, RGBA (alpha dropped), 16-bit, CMYK and YCbCr images
      of any size (1x1 included) become HxWx3 uint8.

    The pixels are OpenCV's by default, in **BGR** order, exactly what mmcv's
    ``LoadImageFromFile`` (used by the downstream configs) gives for a valid
    file, so pre-training and fine-tuning see an image alike and the usual data
    preprocessor with ``to_rgb=True`` and ImageNet mean/std in RGB order
    applies unchanged (:func:`decode_image`; Pillow checks every file first).

    With ``on_error='skip'``, a broken file makes the transform return ``None``
    instead of raising: mmengine's ``BaseDataset`` then draws another index
    (training only; in ``test_mode`` it raises). Every skip is logged as a
    warning naming the file and the reason, and counted in
    :attr:`num_skipped`, which is shared with the data loader workers.

    Required Keys:

    - img_path

    Modified Keys:

    - img
    - img_shape
    - ori_shape

    Args:
        on_error (str): ``'raise'`` (default) or ``'skip'``.
        channel_order (str): ``'bgr'`` (default, as ``LoadImageFromFile``) or
            ``'rgb'``.
        imdecode_backend (str): Who decodes the pixels: ``'cv2'`` (default, as
            ``LoadImageFromFile``) or ``'pillow'`` (one decode instead of two;
            pixels may differ from OpenCV's, see :func:`decode_image`).
        to_float32 (bool): Return a float32 array instead of uint8.
            Defaults to False.
        backend_args (dict, optional): Arguments of the mmengine file backend
            (see :func:`mmengine.fileio.get`). Defaults to None (local files).
    """

    def __init__(self,
                 on_error: str = 'raise',
                 channel_order: str = 'bgr',
                 to_float32: bool = False,
                 imdecode_backend: str = 'cv2',
                 backend_args: Optional[dict] = None) -> None:
        if on_error not in ('raise', 'skip'):
            raise ValueError(f"on_error must be 'raise' or 'skip', got "
                             f'{on_error!r}')
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError(f"channel_order must be 'bgr' or 'rgb', got "
                             f'{channel_order!r}')
        if imdecode_backend not in DECODERS:
            raise ValueError(f'imdecode_backend must be one of {DECODERS}, got '
                             f'{imdecode_backend!r}')
        self.on_error = on_error
        self.channel_order = channel_order
        self.imdecode_backend = imdecode_backend
        self.to_float32 = to_float32
        self.backend_args = backend_args.copy() if backend_args else None
        self._skipped = _SharedCounter()

    @property
    def num_skipped(self) -> int:
        """How many images this transform (and its worker copies) skipped."""
        return self._skipped.value

    def _read(self, filename: str) -> np.ndarray:
        try:
            img_bytes = fileio.get(filename, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(
                f"cannot load image '{filename}': no such file") from None
        except IsADirectoryError:
            raise CorruptImageError(
                f"cannot load image '{filename}': it is a directory") from None
        return decode_image(img_bytes, filename, self.channel_order,
                            self.imdecode_backend)

    def transform(self, results: dict) -> Optional[dict]:
        filename = results['img_path']
        try:
            img = self._read(filename)
        except (FileNotFoundError, CorruptImageError) as e:
            if self.on_error == 'raise':
                raise
            count = self._skipped.increment()
            print_log(f'skipped sample: {e} ({count} image(s) skipped so far)',
                      logger='current', level=logging.WARNING)
            return None
        img = np.ascontiguousarray(img)
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(on_error={self.on_error!r}, '
                f'channel_order={self.channel_order!r}, '
                f'imdecode_backend={self.imdecode_backend!r}, '
                f'to_float32={self.to_float32}, '
                f'backend_args={self.backend_args})')


def num_skipped_images(dataset) -> int:
    """Total images skipped by :class:`LoadImageRobust` in a dataset's
    pipelines, looking through dataset wrappers (``ConcatDataset``,
    ``RepeatDataset``, ...).

    Args:
        dataset: A dataset object (or dataset wrapper).

    Returns:
        int: The number of skipped images, across data loader workers.
    """
    total = 0
    for sub in getattr(dataset, 'datasets', ()):
        total += num_skipped_images(sub)
    inner = getattr(dataset, 'dataset', None)
    if inner is not None:
        total += num_skipped_images(inner)
    pipeline = getattr(dataset, 'pipeline', None)
    for transform in getattr(pipeline, 'transforms', ()):
        if isinstance(transform, LoadImageRobust):
            total += transform.num_skipped
    return total
