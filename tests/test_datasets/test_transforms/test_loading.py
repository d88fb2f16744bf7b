import io
import logging
import struct
import warnings
import zlib

import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.logging import MMLogger
from PIL import Image
from torch.utils.data import DataLoader

from mmhybrid.datasets import (CorruptImageError, LoadImageRobust,
                               UnlabelledImageFolder, num_skipped_images)


def rgb_array(h=6, w=5):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)


def encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def write(path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def load(path, **kwargs):
    return LoadImageRobust(**kwargs)(dict(img_path=str(path)))


def assert_3c_uint8(img, shape):
    assert img.dtype == np.uint8
    assert img.shape == shape + (3, )
    assert img.flags['C_CONTIGUOUS']


# ---- broken files: an error that names the file and the reason ----------


def test_missing_file_raises_naming_the_file(tmp_path):
    path = tmp_path / 'nope.png'
    with pytest.raises(FileNotFoundError, match=r"nope\.png.*no such file"):
        load(path)


def test_zero_byte_file_raises(tmp_path):
    path = write(tmp_path / 'empty.jpg', b'')
    with pytest.raises(CorruptImageError, match=r"empty\.jpg.*empty \(0 bytes\)"):
        load(path)


def test_truncated_jpeg_raises(tmp_path):
    data = encode(Image.fromarray(rgb_array(32, 32)), 'JPEG')
    path = write(tmp_path / 'cut.jpg', data[:len(data) // 2])
    with pytest.raises(CorruptImageError, match=r"cut\.jpg.*truncated"):
        load(path)


def test_truncated_png_raises(tmp_path):
    data = encode(Image.fromarray(rgb_array(32, 32)), 'PNG')
    path = write(tmp_path / 'cut.png', data[:len(data) // 2])
    with pytest.raises(CorruptImageError, match=r"cut\.png.*truncated"):
        load(path)


def test_not_an_image_raises(tmp_path):
    path = write(tmp_path / 'notes.png', b'these are not pixels')
    with pytest.raises(CorruptImageError,
                       match=r"notes\.png.*not a known image format"):
        load(path)


def bomb_png(side: int) -> bytes:
    """A valid 1-bit grayscale PNG of ``side`` x ``side`` zeros, written
    without Pillow (which would hold one byte per pixel in memory): 20000 px
    is 400 million pixels in about 50 KB."""

    def chunk(tag, data):
        return (struct.pack('>I', len(data)) + tag + data +
                struct.pack('>I', zlib.crc32(tag + data)))

    row = b'\x00' * (1 + (side + 7) // 8)  # filter type 0, then the bits
    compressor = zlib.compressobj(9)
    idat = b''.join(compressor.compress(row) for _ in range(side))
    idat += compressor.flush()
    # width, height, bit depth 1, colour type 0 (grayscale), no interlace
    ihdr = struct.pack('>IIBBBBB', side, side, 1, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) +
            chunk(b'IDAT', idat) + chunk(b'IEND', b''))


@pytest.fixture(scope='module')
def bomb_bytes():
    return bomb_png(20000)


def test_bomb_png_writes_valid_pngs(tmp_path):
    """The generator writes real PNGs (checked at a decodable size)."""
    path = write(tmp_path / 'zeros.png', bomb_png(64))
    img = load(path, channel_order='rgb')['img']
    assert_3c_uint8(img, (64, 64))
    assert not img.any()


def test_decompression_bomb_raises_naming_the_file(tmp_path, bomb_bytes):
    assert len(bomb_bytes) < 500_000  # a few hundred KB at most
    assert Image.MAX_IMAGE_PIXELS is not None
    assert 20000 * 20000 > 2 * Image.MAX_IMAGE_PIXELS
    path = write(tmp_path / 'bomb.png', bomb_bytes)
    with pytest.raises(CorruptImageError) as error:
        load(path)
    message = str(error.value)
    assert path in message
    assert 'decompression bomb' in message
    assert '400000000 pixels' in message  # Pillow's reason is kept
    assert isinstance(error.value.__cause__, Image.DecompressionBombError)


def test_decompression_bomb_is_skipped_and_counted(tmp_path, bomb_bytes):
    path = write(tmp_path / 'bomb.png', bomb_bytes)
    transform = LoadImageRobust(on_error='skip')
    logger, records = MMLogger.get_current_instance(), Records()
    logger.addHandler(records)
    try:
        assert transform(dict(img_path=path)) is None
        assert transform(dict(img_path=path)) is None
    finally:
        logger.removeHandler(records)
    assert transform.num_skipped == 2
    skips = [m for m in records.messages
             if 'skipped' in m and path in m and 'decompression bomb' in m]
    assert len(skips) == 2


def test_decompression_bomb_warning_as_error_is_wrapped(tmp_path, monkeypatch):
    """Between once and twice the limit Pillow only warns; a warnings filter
    that makes that an error is honoured, and the error names the file."""
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)
    path = write(tmp_path / 'big.png', bomb_png(12))  # 144 pixels
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(path)  # the premise: a warning, not an error
    with warnings.catch_warnings():
        warnings.simplefilter('error', Image.DecompressionBombWarning)
        with pytest.raises(CorruptImageError, match=r'big\.png.*decompression '
                           r'bomb.*144 pixels'):
            load(path)
        assert load(path, on_error='skip') is None


def test_image_over_the_warning_limit_loads_with_a_warning_naming_it(
        tmp_path, monkeypatch):
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)
    path = write(tmp_path / 'big.png', bomb_png(12))  # 144 pixels
    logger, records = MMLogger.get_current_instance(), Records()
    logger.addHandler(records)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            img = load(path)['img']
            small = load(write(tmp_path / 'small.png', bomb_png(10)))['img']
    finally:
        logger.removeHandler(records)
    assert_3c_uint8(img, (12, 12))
    assert_3c_uint8(small, (10, 10))
    assert len(records.messages) == 1  # not for the 100-pixel image
    assert path in records.messages[0]
    assert '144 pixels (12x12)' in records.messages[0]


# ---- unusual but valid images: 3-channel uint8 ----------------------------


def test_rgb_png_matches_load_image_from_file_bgr(tmp_path):
    """The default output is what mmpretrain's LoadImageFromFile gives."""
    path = write(tmp_path / 'rgb.png', encode(Image.fromarray(rgb_array()),
                                              'PNG'))
    ours = load(path)
    theirs = LoadImageFromFile()(dict(img_path=path))
    np.testing.assert_array_equal(ours['img'], theirs['img'])
    assert ours['img_shape'] == ours['ori_shape'] == (6, 5)
    rgb = load(path, channel_order='rgb')['img']
    np.testing.assert_array_equal(rgb, rgb_array())


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = rgb_array()[:, :, 0]
    path = write(tmp_path / 'gray.png', encode(Image.fromarray(gray), 'PNG'))
    img = load(path)['img']
    assert_3c_uint8(img, (6, 5))
    for c in range(3):
        np.testing.assert_array_equal(img[:, :, c], gray)


def test_rgba_drops_alpha(tmp_path):
    rgba = np.concatenate([rgb_array(), np.full((6, 5, 1), 7, np.uint8)], 2)
    path = write(tmp_path / 'rgba.png', encode(Image.fromarray(rgba), 'PNG'))
    img = load(path, channel_order='rgb')['img']
    assert_3c_uint8(img, (6, 5))
    np.testing.assert_array_equal(img, rgba[:, :, :3])


def test_16bit_png_is_scaled_to_8_bits(tmp_path):
    values = np.array([[0, 257, 65535], [32896, 1000, 60000]], np.uint16)
    path = write(tmp_path / 'deep.png', encode(Image.fromarray(values), 'PNG'))
    img = load(path)['img']
    assert_3c_uint8(img, (2, 3))
    # OpenCV, as LoadImageFromFile: the high byte
    np.testing.assert_array_equal(img[:, :, 1], (values >> 8).astype(np.uint8))
    pil = load(path, imdecode_backend='pillow')['img']
    np.testing.assert_array_equal(pil[:, :, 1],
                                  np.rint(values / 257).astype(np.uint8))


def exif_rotated_jpeg():
    img = Image.fromarray(rgb_array(12, 20))
    exif = img.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    return encode(img, 'JPEG', quality=90, exif=exif.tobytes())


# kinds whose decode differs between libraries or versions: JPEG (the IDCT and
# chroma upsampling of the libjpeg each library bundles), CMYK, 16-bit, EXIF
DOWNSTREAM_KINDS = {
    'photo.jpg': lambda: encode(Image.fromarray(rgb_array(32, 48)), 'JPEG',
                                quality=85),
    'progressive.jpg': lambda: encode(Image.fromarray(rgb_array(32, 48)), 'JPEG',
                                      quality=85, progressive=True),
    'gray.jpg': lambda: encode(Image.fromarray(rgb_array(32, 48)[..., 0]), 'JPEG'),
    'cmyk.jpg': lambda: encode(Image.fromarray(rgb_array(16, 16)).convert('CMYK'),
                               'JPEG'),
    'rotated.jpg': exif_rotated_jpeg,
    'deep.png': lambda: encode(Image.fromarray(
        np.arange(0, 65535, 1111, dtype=np.uint16)[:58].reshape(2, 29)), 'PNG'),
    'rgba.png': lambda: encode(Image.fromarray(np.concatenate(
        [rgb_array(), np.full((6, 5, 1), 7, np.uint8)], 2)), 'PNG'),
    'palette.png': lambda: encode(Image.fromarray(rgb_array()).convert(
        'P', palette=Image.ADAPTIVE), 'PNG'),
}


@pytest.mark.parametrize('name', sorted(DOWNSTREAM_KINDS))
def test_pixels_are_those_the_downstream_configs_decode(tmp_path, name):
    """Pre-training decodes as the downstream configs' LoadImageFromFile
    (mmcv, imdecode_backend='cv2' by default), bit for bit."""
    path = write(tmp_path / name, DOWNSTREAM_KINDS[name]())
    downstream = LoadImageFromFile()(dict(img_path=path))['img']
    ours = load(path)
    np.testing.assert_array_equal(ours['img'], downstream)
    assert ours['img_shape'] == downstream.shape[:2]
    rgb = load(path, channel_order='rgb')['img']
    np.testing.assert_array_equal(rgb, downstream[:, :, ::-1])


def test_downstream_configs_decode_with_opencv():
    """The premise of the test above: every LoadImageFromFile in the
    benchmark configs decodes with mmcv's default, OpenCV."""
    from pathlib import Path

    from mmengine.config import Config
    loaders = []
    for path in sorted((Path(__file__).parents[3] / 'configs' / 'benchmarks').glob(
            '*/*.py')):
        text = path.read_text()
        if 'LoadImageFromFile' in text:
            loaders += [t for t in Config.fromfile(str(path)).test_pipeline
                        if t['type'] == 'LoadImageFromFile']
    assert loaders
    assert {t.get('imdecode_backend', 'cv2') for t in loaders} == {'cv2'}
    assert LoadImageFromFile().imdecode_backend == 'cv2'


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 230
    data = encode(Image.fromarray(red).convert('CMYK'), 'JPEG', quality=95)
    assert Image.open(io.BytesIO(data)).mode == 'CMYK'
    img = load(write(tmp_path / 'cmyk.jpg', data), channel_order='rgb')['img']
    assert_3c_uint8(img, (16, 16))
    assert abs(int(img[..., 0].mean()) - 230) < 8
    assert img[..., 1:].mean() < 10


def test_one_pixel_image(tmp_path):
    pixel = np.array([[[10, 20, 30]]], np.uint8)
    path = write(tmp_path / 'dot.png', encode(Image.fromarray(pixel), 'PNG'))
    img = load(path)['img']
    assert_3c_uint8(img, (1, 1))
    assert img[0, 0].tolist() == [30, 20, 10]  # BGR


def test_palette_image(tmp_path):
    pal = Image.fromarray(rgb_array()).convert('P', palette=Image.ADAPTIVE)
    path = write(tmp_path / 'pal.png', encode(pal, 'PNG'))
    img = load(path, channel_order='rgb')['img']
    np.testing.assert_array_equal(img, np.asarray(pal.convert('RGB')))


# ---- skip policy: counted and logged, never silent ------------------------


@pytest.fixture
def folder_with_one_bad_image(tmp_path):
    for name in ('a.png', 'c.png'):
        write(tmp_path / name, encode(Image.fromarray(rgb_array()), 'PNG'))
    write(tmp_path / 'b.png', b'')
    return tmp_path


def test_bad_image_raises_through_dataset_by_default(folder_with_one_bad_image):
    dataset = UnlabelledImageFolder(
        data_prefix=str(folder_with_one_bad_image),
        pipeline=[dict(type='LoadImageRobust')])
    with pytest.raises(CorruptImageError, match=r'b\.png'):
        dataset[1]


class Records(logging.Handler):

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_skip_counts_and_logs_each_bad_image(folder_with_one_bad_image):
    dataset = UnlabelledImageFolder(
        data_prefix=str(folder_with_one_bad_image),
        pipeline=[dict(type='LoadImageRobust', on_error='skip')])
    logger, records = MMLogger.get_current_instance(), Records()
    logger.addHandler(records)
    try:
        sample = dataset[1]  # b.png: another sample comes instead
    finally:
        logger.removeHandler(records)
    assert not sample['img_path'].endswith('b.png')
    assert sample['img'].shape == (6, 5, 3)
    # the retry index is random and may hit b.png again: each try counts
    skips = [m for m in records.messages
             if 'skipped' in m and 'b.png' in m and '0 bytes' in m]
    assert len(skips) >= 1
    assert num_skipped_images(dataset) == len(skips)


def test_skip_count_is_shared_with_loader_workers(folder_with_one_bad_image):
    dataset = UnlabelledImageFolder(
        data_prefix=str(folder_with_one_bad_image),
        pipeline=[dict(type='LoadImageRobust', on_error='skip')])
    loader = DataLoader(dataset, batch_size=1, num_workers=2,
                        collate_fn=lambda batch: batch)
    for _ in range(2):  # two epochs: b.png is skipped (at least) twice
        batches = list(loader)
        assert len(batches) == 3
        assert not [b for b in batches if b[0]['img_path'].endswith('b.png')]
    # counted in the workers, visible here (random retries may add skips)
    assert num_skipped_images(dataset) >= 2


def test_rejects_unknown_policy():
    with pytest.raises(ValueError, match='on_error'):
        LoadImageRobust(on_error='ignore')
    with pytest.raises(ValueError, match='imdecode_backend'):
        LoadImageRobust(imdecode_backend='turbojpeg')
