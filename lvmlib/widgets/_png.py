"""A fast PNG encoder for an Agg canvas (one numpy pass, zlib's run-length mode)."""

from __future__ import annotations

import struct
import zlib

__all__ = ["canvas_png"]


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def canvas_png(canvas) -> bytes:
    """PNG bytes of what an Agg canvas holds now (no redraw), encoded for speed.

    A slider redraws on every move, so the encoder matters: each row gets PNG's *Up* filter
    (the difference to the row above: zero wherever the picture is flat or has vertical
    edges, one numpy subtraction) and zlib compresses at level 1 in run-length mode
    (``Z_RLE``).  For a 2x picture (1-3 Mpx) this is about twice as fast as Pillow's
    ``compress_level=1`` (which tries five filters per row), for ~25% more bytes.
    The RGBA buffer is kept as it is (dropping alpha costs a strided copy).
    Spec: PNG (ISO/IEC 15948), sections 9 (filters) and 11.2 (IHDR, colour type 6).
    """
    import numpy as np

    width, height = canvas.get_width_height(physical=True)
    rgba = np.asarray(canvas.buffer_rgba()).reshape(height, width * 4)
    rows = np.empty((height, width * 4 + 1), dtype=np.uint8)  # filter byte + filtered row
    rows[:, 0] = 2  # Up
    rows[0, 1:] = rgba[0]
    np.subtract(rgba[1:], rgba[:-1], out=rows[1:, 1:])  # uint8 arithmetic wraps mod 256, as PNG wants
    packer = zlib.compressobj(1, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = packer.compress(rows) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")

