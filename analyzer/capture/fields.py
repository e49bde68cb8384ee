"""Vectorised reads of integer fields at many byte offsets of one buffer."""

from __future__ import annotations

import numpy as np


def be16(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return (buf[at].astype(np.int64) << 8) | buf[at + 1]


def be32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return (
        (buf[at].astype(np.int64) << 24)
        | (buf[at + 1].astype(np.int64) << 16)
        | (buf[at + 2].astype(np.int64) << 8)
        | buf[at + 3]
    )


def le32(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return (
        (buf[at + 3].astype(np.int64) << 24)
        | (buf[at + 2].astype(np.int64) << 16)
        | (buf[at + 1].astype(np.int64) << 8)
        | buf[at]
    )
