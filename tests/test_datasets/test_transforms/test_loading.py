import io
import logging

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
    np.testing.assert_array_equal(img[:, :, 1],
                                  np.rint(values / 257).astype(np.uint8))


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
