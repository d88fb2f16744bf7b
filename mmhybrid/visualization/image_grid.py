"""Pictures side by side: rows of equally sized RGB panels under column titles."""
from typing import List, Sequence

import cv2
import numpy as np

PAD = 4  # white pixels between panels and around the grid
TITLE_H = 22  # pixels of the title row


def image_grid(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str],
               scale: int = 1) -> np.ndarray:
    """One RGB uint8 picture: ``rows[i][j]`` (H x W x 3 uint8, every panel of a
    column the same size) enlarged ``scale`` times by pixel repetition (no
    interpolation: the panel's pixels are in the picture as they are), at
    :func:`panel_origin`, under a title row.
    """
    widths = [max(row[j].shape[1] for row in rows) * scale for j in range(len(titles))]
    heights = [max(p.shape[0] for p in row) * scale for row in rows]
    canvas = np.full((TITLE_H + PAD + sum(heights) + PAD * len(rows),
                      PAD + sum(widths) + PAD * len(widths), 3), 255, np.uint8)
    x = PAD
    for title, width in zip(titles, widths):
        _text(canvas, title, x, width)
        x += width + PAD
    for i, row in enumerate(rows):
        for j, panel in enumerate(row):
            top, left = panel_origin(rows, titles, i, j, scale)
            big = panel.repeat(scale, axis=0).repeat(scale, axis=1)
            canvas[top:top + big.shape[0], left:left + big.shape[1]] = big
    return canvas


def panel_origin(rows: Sequence[Sequence[np.ndarray]], titles: Sequence[str],
                 i: int, j: int, scale: int = 1) -> tuple:
    """(top, left) pixel of panel ``rows[i][j]`` in :func:`image_grid`'s picture."""
    widths = [max(row[c].shape[1] for row in rows) * scale for c in range(len(titles))]
    heights = [max(p.shape[0] for p in row) * scale for row in rows]
    return (TITLE_H + PAD + sum(heights[:i]) + PAD * i,
            PAD + sum(widths[:j]) + PAD * j)


def _text(canvas: np.ndarray, text: str, left: int, width: int) -> None:
    font, size, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1
    while size > 0.25 and cv2.getTextSize(text, font, size, thick)[0][0] > width:
        size -= 0.05
    w = cv2.getTextSize(text, font, size, thick)[0][0]
    cv2.putText(canvas, text, (left + max(0, (width - w) // 2), TITLE_H - 6), font,
                size, (0, 0, 0), thick, cv2.LINE_AA)


def stack_rows(images: List[np.ndarray], titles: Sequence[str] = ()) -> np.ndarray:
    """Pictures of equal width one under another (a title row when given)."""
    return image_grid([[img] for img in images], [' | '.join(titles)])
