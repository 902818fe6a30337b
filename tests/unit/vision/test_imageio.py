"""Bad input for image loading gives a clear error naming the file and the reason."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from lfr.vision.imageio import ImageError, decode_image_bytes, encode_jpeg, load_image


def _png_claiming_size(path: Path, width: int, height: int) -> None:
    """A valid 1×1 PNG whose IHDR is patched to claim `width`×`height` (CRC fixed up):
    a decompression bomb's header without allocating its pixels."""
    Image.new("RGB", (1, 1), (10, 20, 30)).save(path, format="PNG")
    data = bytearray(path.read_bytes())
    ihdr_start = 8 + 4  # signature, then the chunk length
    assert data[ihdr_start : ihdr_start + 4] == b"IHDR"
    data[ihdr_start + 4 : ihdr_start + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr_start : ihdr_start + 17]))
    data[ihdr_start + 17 : ihdr_start + 21] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))


def test_truncated_jpeg_is_refused_naming_file_and_reason(
    tmp_path: Path, examples_dir: Path
) -> None:
    whole = (examples_dir / "obama.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert caught.value.path == str(path)
    assert "truncated" in caught.value.reason
    assert str(caught.value).startswith(f"{path}: ")


def test_zero_byte_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        load_image(path)


def test_text_named_png_is_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("this is a shopping list, not a picture\n")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_image(path)


def test_decompression_bomb_is_refused_from_its_header(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    _png_claiming_size(path, 20_000, 20_000)
    assert path.stat().st_size < 100
    with pytest.raises(ImageError) as caught:
        load_image(path)
    # "too large" (not "truncated"): the header was checked before any decoding.
    assert "too large" in caught.value.reason
    assert "decompression bomb" in caught.value.reason
    assert caught.value.path == str(path)


def _one_colour_png(width: int, height: int) -> bytes:
    """A complete, valid 1-bit black PNG, built row by row so that its pixels are never
    held in memory: one colour compresses to almost nothing."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )


def test_real_one_colour_20000_square_png_is_refused() -> None:
    data = _one_colour_png(20_000, 20_000)
    assert len(data) < 200_000  # decoded to RGB it would take 1.2 GB
    with pytest.raises(ImageError, match="decompression bomb") as caught:
        decode_image_bytes(data, name="upload big.png")
    assert caught.value.path == "upload big.png"


def test_limit_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (100, 100)).save(path)
    assert load_image(path, max_pixels=10_000).shape == (100, 100, 3)
    with pytest.raises(ImageError, match="too large"):
        load_image(path, max_pixels=9_999)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.jpg"
    with pytest.raises(ImageError, match=r"nowhere\.jpg: file not found"):
        load_image(path)


def test_rgba_png_loads_as_rgb(examples_dir: Path) -> None:
    image = load_image(examples_dir / "32bit.png")
    assert image.ndim == 3
    assert image.shape[2] == 3
    assert image.dtype == np.uint8
    assert image.flags["C_CONTIGUOUS"]


def test_transparency_is_shown_on_white(tmp_path: Path) -> None:
    path = tmp_path / "clear.png"
    Image.new("RGBA", (4, 4), (255, 0, 0, 0)).save(path)
    assert (load_image(path) == 255).all()


def test_grey_and_sixteen_bit_images_become_rgb(tmp_path: Path) -> None:
    grey = tmp_path / "grey.jpg"
    Image.new("L", (8, 6), 77).save(grey)
    loaded = load_image(grey)
    assert loaded.shape == (6, 8, 3)
    assert abs(int(loaded[0, 0, 0]) - 77) <= 2

    wide = tmp_path / "wide.png"
    values = np.full((5, 7), 65535 // 2, dtype=np.uint16)
    Image.fromarray(values).save(wide)
    loaded = load_image(wide)
    assert loaded.shape == (5, 7, 3)
    assert int(loaded[0, 0, 0]) == 127


def test_jpeg_round_trip() -> None:
    image = np.zeros((40, 60, 3), dtype=np.uint8)
    image[:, :30] = (200, 50, 50)
    data = encode_jpeg(image, quality=95)
    assert data[:2] == b"\xff\xd8"
    decoded = decode_image_bytes(data, name="probe")
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image.astype(int)).mean() < 3


def test_jpeg_quality_is_checked() -> None:
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(np.zeros((2, 2, 3), dtype=np.uint8), quality=0)


def test_sixteen_bit_colour_png_becomes_eight_bit_rgb(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    bgr = np.zeros((4, 5, 3), dtype=np.uint16)
    bgr[..., 2] = 65535  # red, full
    bgr[..., 1] = 32768  # green, half
    assert cv2.imwrite(str(path), bgr)
    loaded = load_image(path)
    assert loaded.dtype == np.uint8
    assert loaded[0, 0].tolist() == [255, 128, 0]
