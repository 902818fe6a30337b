"""Reading images from files and bytes, refusing bad input with a clear reason.

Everything that reads a picture (watchlist enrolment WL-5, uploads in the web
application, tests) goes through `load_image` / `decode_image_bytes`, so that every
caller gets the same checks: an empty file, a file that is not an image, a truncated
image, or a decompression bomb (a small file that claims a huge size) gives an
`ImageError` naming the file and the reason — and never a crash or a silent partial
image. The header's size is checked *before* the pixels are decoded, so a bomb costs
nothing to refuse.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from lfr.vision.types import RGBImage

DEFAULT_MAX_PIXELS = 40_000_000
"""Larger than any camera still (a 40-megapixel photo); a bigger header is refused."""

UPLOAD_MAX_PIXELS = 25_000_000
"""Largest image accepted from a browser or script (25 MP: a custody photograph is far
smaller). Decoding costs about 3 bytes per pixel and CPU in proportion: a lower cap bounds
what one upload can cost; a higher one admits scans of prints at higher resolution."""

UPLOAD_FORMATS = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG"}
"""The only formats accepted from uploads, by their first bytes (magic numbers). Every
other decoder Pillow has (TIFF, EPS, JPEG 2000, …) is never reached by uploaded bytes."""

STORED_JPEG_QUALITY = 92
"""Quality of the re-encoded copy that is stored: near-lossless for a face, small enough."""


class ImageError(ValueError):
    """An image that cannot be used; `str()` is ``"<path>: <reason>"``."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def load_image(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """Read an image file as H×W×3 RGB uint8 (RGBA, grey, palette and 16-bit are converted;
    the EXIF orientation is applied). Raises `ImageError` naming the file and the reason."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ImageError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageError(path, "is a directory, not an image file") from None
    except OSError as error:
        raise ImageError(path, f"cannot be read ({error.strerror or error})") from None
    return decode_image_bytes(data, name=str(path), max_pixels=max_pixels)


def decode_image_bytes(data: bytes, *, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> RGBImage:
    """Decode an encoded image (JPEG, PNG, …) held in memory; `name` is used in errors."""
    if not data:
        raise ImageError(name, "empty file (0 bytes)")
    with warnings.catch_warnings():
        # Pillow warns (and past twice its own limit, raises) about huge images; our own
        # limit below is the one that decides, so its warning is noise here.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        picture = _open(data, name)
        _check_size(picture, name, max_pixels)
        try:
            picture.load()
        except (OSError, SyntaxError, ValueError) as error:
            raise ImageError(name, f"truncated or corrupt image data ({error})") from None
    return _to_rgb(picture, name)


def upload_format(data: bytes, name: str) -> str:
    """The upload's format from its magic bytes (JPEG or PNG), else `ImageError`."""
    for magic, kind in UPLOAD_FORMATS.items():
        if data.startswith(magic):
            return kind
    raise ImageError(name, "not a JPEG or PNG image (refused by its first bytes, before decoding)")


def decode_upload(
    data: bytes,
    *,
    name: str,
    max_pixels: int = UPLOAD_MAX_PIXELS,
    max_side: int | None = None,
) -> RGBImage:
    """Decode an uploaded image: JPEG or PNG only (magic bytes, and Pillow limited to that
    one decoder), size checked from the header against ``max_pixels`` before any pixel is
    decoded. With ``max_side`` the picture is shrunk to fit (a JPEG is decoded at reduced
    scale directly), so what follows costs memory and time for that size only. Raises
    `ImageError` naming the upload and the reason."""
    if not data:
        raise ImageError(name, "empty file (0 bytes)")
    kind = upload_format(data, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        picture = _open(data, name, formats=(kind,))
    # Closed (its pixels freed) on every way out: what is returned is a copy, and a refused
    # upload's pixels (~100 MB for 25 MP) would otherwise live on in the refusal's traceback
    # for as long as the refusal is kept. (Pillow's `with` does not free them.)
    try:
        _check_size(picture, name, max_pixels)
        _load_within(picture, kind, name, max_side)
        return _to_rgb(picture, name)
    finally:
        picture.close()


def _load_within(picture: Image.Image, kind: str, name: str, max_side: int | None) -> None:
    """Decode the pixels, shrunk to fit ``max_side`` (a JPEG decoded at reduced scale)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            if max_side is not None and kind == "JPEG":
                picture.draft("RGB", (max_side, max_side))
            picture.load()
            if max_side is not None and max(picture.size) > max_side:
                picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            return
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            reason = f"truncated or corrupt image data ({error})"
    # Raised once Pillow's error is gone: chained to it, the refusal would keep the
    # decoder, and with it the half-decoded pixels, alive.
    raise ImageError(name, reason)


def reencode_for_storage(image: RGBImage) -> bytes:
    """A fresh JPEG of the decoded pixels: none of the uploaded bytes, no metadata (EXIF,
    GPS, comments, ICC), orientation already applied."""
    return encode_jpeg(image, quality=STORED_JPEG_QUALITY)


def encode_jpeg(image: RGBImage, quality: int = 90) -> bytes:
    """Encode an RGB image as JPEG (e.g. a probe crop for a `MatchEvent`)."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality must be 1–100, got {quality}")
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image), mode="RGB").save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


def _open(data: bytes, name: str, formats: tuple[str, ...] | None = None) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError:
        raise ImageError(name, "not an image (unrecognised or unsupported format)") from None
    except Image.DecompressionBombError as error:
        # Pillow refuses by itself past twice its own limit, before reading any pixel.
        raise ImageError(
            name,
            f"image too large, refused before decoding as a possible decompression bomb ({error})",
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageError(name, f"corrupt image header ({error})") from None


def _check_size(picture: Image.Image, name: str, max_pixels: int) -> None:
    width, height = picture.size
    if width <= 0 or height <= 0:
        raise ImageError(name, f"image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageError(
            name,
            f"image too large: {width}×{height} = {width * height:,} pixels, over the limit of "
            f"{max_pixels:,} (refused before decoding, as a possible decompression bomb)",
        )


def _to_rgb(picture: Image.Image, name: str) -> RGBImage:
    # A broken EXIF block should not lose an otherwise good picture.
    with contextlib.suppress(OSError, ValueError, SyntaxError):
        picture = ImageOps.exif_transpose(picture) or picture
    if picture.mode in {"I;16", "I;16L", "I;16B", "I;16N", "I"}:
        return _wide_grey_to_rgb(picture)
    if picture.mode in {"RGBA", "LA", "PA"} or (
        picture.mode == "P" and "transparency" in picture.info
    ):
        # Transparent parts are shown on white, as a viewer would show them.
        rgba = picture.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(background, rgba)
    try:
        rgb = picture if picture.mode == "RGB" else picture.convert("RGB")
        array = np.asarray(rgb, dtype=np.uint8)
    except (OSError, ValueError) as error:
        raise ImageError(name, f"cannot convert {picture.mode} image to RGB ({error})") from None
    return np.ascontiguousarray(array)


def _wide_grey_to_rgb(picture: Image.Image) -> RGBImage:
    """16-bit (or 32-bit integer) grey: scale the range the format can hold to 0–255."""
    values = np.asarray(picture, dtype=np.int64)
    top = 65535 if picture.mode.startswith("I;16") or values.max(initial=0) > 255 else 255
    grey = np.clip(values * 255 // top, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
