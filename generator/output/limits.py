"""Caps a shard reader applies before it allocates: what no hostile member may size.

A shard is user input. Its tar headers, image headers and Parquet footers say how much a
reader should allocate; these caps bound that, far above anything a build writes (images
of at most 8192 px a side, `generator.config.MAX_SIZE_PX`; 64 rows per row group):

* MAX_MEMBER_BYTES: one tar member (an 8 GiB header is refused before any read);
* MAX_IMAGE_PIXELS: one encoded image, from its header (a 20000 x 20000 PNG of a few KB is
  refused before decoding: a decompression bomb);
* MAX_ROW_GROUP_BYTES: the uncompressed size of the columns read from one Parquet row group,
  from the footer (a small zstd file that inflates to 1 GiB is refused per row group).

Each check returns None or a one-line reason; readers turn it into a `ShardError`.
"""

from __future__ import annotations

import io
import warnings

MAX_MEMBER_BYTES = 256 * 2**20
MAX_IMAGE_PIXELS = 8192 * 8192
MAX_ROW_GROUP_BYTES = 512 * 2**20


def member_size_problem(size: int, limit: int = MAX_MEMBER_BYTES) -> str | None:
    if 0 <= size <= limit:
        return None
    return f"tar member of {size} bytes (at most {limit})"


def image_size_problem(data: bytes, limit: int = MAX_IMAGE_PIXELS) -> str | None:
    """None when `data` is a PNG or JPEG whose header claims at most `limit` pixels, else why.
    Reads the header only (PIL opens lazily); nothing is decoded."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # ours is the cap
            with Image.open(io.BytesIO(data)) as img:
                width, height = img.size
                kind = img.format
    except Image.DecompressionBombError as exc:  # PIL's own cap, above ours: the header was read
        return f"image header claims too many pixels ({exc}): a decompression bomb"
    except Exception as exc:  # PIL raises many types for bytes that are not an image
        return f"not a readable image ({type(exc).__name__}: {str(exc)[:120]})"
    if kind not in ("PNG", "JPEG"):
        return f"image format {kind} (allowed: PNG, JPEG)"
    if width * height > limit:
        return f"image header claims {width}x{height} px, {width * height / 1e6:.0f} megapixels (at most " \
               f"{limit / 1e6:.0f}): a decompression bomb"
    return None


def row_group_problem(metadata, index: int, columns: list[str], limit: int = MAX_ROW_GROUP_BYTES) -> str | None:
    """None when the `columns` of row group `index` of a pyarrow FileMetaData are at most
    `limit` bytes uncompressed, by the footer, else why."""
    group = metadata.row_group(index)
    names = set(columns)
    total = sum(group.column(c).total_uncompressed_size for c in range(group.num_columns)
                if group.column(c).path_in_schema.split(".")[0] in names)
    if 0 <= total <= limit:
        return None
    return f"row group {index} inflates to {total} bytes uncompressed (at most {limit})"
