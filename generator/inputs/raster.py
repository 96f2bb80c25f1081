"""Batched PNG/JPEG decoding to native integer pixels.

NVIDIA DALI decodes whole batches: "mixed" (nvJPEG on the GPU) when asked for CUDA and a
device is present, DALI CPU (libjpeg-turbo, libpng) otherwise. Pillow is the fallback when
DALI is not importable, and the one-by-one decoder for a batch that DALI refused. DALI CPU
and Pillow use the same codec libraries, so they return identical pixels (checked in tests).

Output is the file's own sample values, not yet normalised: grey images are ``(H, W)``,
colour images ``(H, W, 3)`` RGB, ``uint8`` for 8-bit sources and ``uint16`` for 16-bit ones
(DALI 2.x keeps 16-bit PNG samples exactly with ``dtype=UINT16``); the dtype is the scale
(full range = 1.0). Normalisation and colour-to-luminance conversion belong to
``generator.inputs.read``.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

# Pillow's modes for 16-bit grey PNG ("I" in some versions). It reduces 16-bit grey + alpha
# to 8 bits; the returned dtype always says which scale the samples are on.
_PIL_16BIT_GREY = ("I;16", "I;16B", "I;16L", "I")
# One DALI run decodes at most this many images; longer groups are fed in chunks so the
# cache holds one pipeline per (device, colour, bits) and not one per batch length.
DALI_MAX_BATCH = 32


@dataclass(frozen=True, kw_only=True)
class EncodedImage:
    """One encoded file and how to decode it, as read from its header.

    data: the whole file. fmt: "PNG" or "JPEG" (for messages). colour: decode to RGB
    ``(H, W, 3)`` rather than grey ``(H, W)``. bits: 8 or 16, the output sample size.
    """

    data: bytes
    fmt: str
    colour: bool
    bits: int


class DecodeError(Exception):
    """One file could not be decoded; ``reason`` is a one-line, human reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@functools.cache
def dali_available() -> bool:
    """True when ``nvidia.dali`` imports (the decoder then used for every batch)."""
    try:
        import nvidia.dali  # noqa: F401
    except ImportError:
        return False
    return True


@functools.cache
def _cuda_device_count() -> int:
    from nvidia.dali import backend

    return backend.GetCUDADeviceCount()


def decode_batch(
    images: Sequence[EncodedImage], *, device: str = "cpu"
) -> list[np.ndarray | DecodeError]:
    """Decode images; one bad file never costs the others.

    Args:
        images: encoded files with their decode settings.
        device: "cpu", "cuda" or "cuda:N". CUDA uses DALI "mixed" decode, and only when DALI
            sees a CUDA device; without one, decoding silently runs on the CPU.

    Returns:
        Per input, in order: ``uint8``/``uint16`` array ``(H, W)`` (grey) or ``(H, W, 3)``
        (colour) on the CPU, or a ``DecodeError`` in its place.
    """
    device_id = parse_device(device)
    if not dali_available():
        return [_decode_pil_or_error(image) for image in images]
    if device_id is not None and device_id >= _cuda_device_count():
        device_id = None
    results: list[np.ndarray | DecodeError | None] = [None] * len(images)
    groups: dict[tuple[bool, int], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault((image.colour, image.bits), []).append(index)
    for (colour, bits), indices in groups.items():
        for start in range(0, len(indices), DALI_MAX_BATCH):
            chunk = indices[start : start + DALI_MAX_BATCH]
            for index, result in zip(
                chunk, _decode_dali_chunk([images[i] for i in chunk], device_id, colour, bits)
            ):
                results[index] = result
    return results  # type: ignore[return-value]  # every slot was filled above


def decode_pil(image: EncodedImage) -> np.ndarray:
    """Decode one file with Pillow; same output contract as ``decode_batch``.

    Raises:
        DecodeError: the file is corrupt, truncated or not decodable by Pillow.
    """
    try:
        with Image.open(io.BytesIO(image.data)) as pil:
            pil.load()
            if image.colour:
                # Palette, RGBA and CMYK all become plain RGB, like DALI's RGB output.
                return np.asarray(pil.convert("RGB"))
            if image.bits == 16 and pil.mode in _PIL_16BIT_GREY:
                return np.asarray(pil, dtype=np.uint16)
            # "1" and low-bit grey expand to 0..255 and "LA" drops alpha, as DALI's GRAY does.
            return np.asarray(pil if pil.mode == "L" else pil.convert("L"))
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DecodeError(f"corrupt or truncated {image.fmt}: {_one_line(exc)}") from exc


def _decode_pil_or_error(image: EncodedImage) -> np.ndarray | DecodeError:
    try:
        return decode_pil(image)
    except DecodeError as exc:
        return exc


def parse_device(device: str) -> int | None:
    """Map "cpu" to None, "cuda" to 0 and "cuda:N" to N (the DALI device id).

    Raises:
        ValueError: any other string, naming the allowed forms.
    """
    if device == "cpu":
        return None
    if device == "cuda":
        return 0
    if device.startswith("cuda:") and device[5:].isdigit():
        return int(device[5:])
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")


_pipelines: dict[tuple[int | None, bool, int], Any] = {}
_pipelines_lock = threading.Lock()


def _decode_dali_chunk(
    chunk: Sequence[EncodedImage], device_id: int | None, colour: bool, bits: int
) -> list[np.ndarray | DecodeError]:
    key = (device_id, colour, bits)
    with _pipelines_lock:
        pipe = _pipelines.get(key) or _build_pipeline(device_id, colour, bits)
        _pipelines[key] = pipe
        try:
            pipe.feed_input("encoded", [np.frombuffer(item.data, np.uint8) for item in chunk])
            (decoded,) = pipe.run()
        except RuntimeError:
            # DALI fails the whole batch for one bad file and the pipeline is unusable
            # afterwards: drop it and decode this chunk one by one with Pillow, which
            # also gives a readable reason for the bad file(s).
            del _pipelines[key]
            return [_decode_pil_or_error(item) for item in chunk]
        if device_id is not None:
            decoded = decoded.as_cpu()
        # np.array copies: DALI reuses its output buffers on the next run.
        arrays = [np.array(decoded[i]) for i in range(len(chunk))]
    # DALI returns HWC; grey output has C == 1.
    return [array if colour else array[..., 0] for array in arrays]


def _build_pipeline(device_id: int | None, colour: bool, bits: int) -> Any:
    from nvidia.dali import fn, pipeline_def, types

    # ANY_DATA is deliberately not used: in DALI 2.4 it corrupts the heap on grey JPEG.
    output_type = types.RGB if colour else types.GRAY
    dtype = types.UINT16 if bits == 16 else types.UINT8

    @pipeline_def(
        batch_size=DALI_MAX_BATCH,
        num_threads=min(len(os.sched_getaffinity(0)), 16),
        device_id=device_id,
        exec_dynamic=True,
        prefetch_queue_depth=1,
    )
    def decode_pipeline():  # type: ignore[no-untyped-def]
        encoded = fn.external_source(name="encoded", dtype=types.UINT8, ndim=1)
        return fn.decoders.image(
            encoded,
            device="cpu" if device_id is None else "mixed",
            output_type=output_type,
            dtype=dtype,
            # Pillow ignores EXIF orientation too; both paths must agree with the header's H, W.
            adjust_orientation=False,
            # nvJPEG then upsamples chroma like libjpeg-turbo: GPU and CPU builds agree.
            jpeg_fancy_upsampling=True,
        )

    pipe = decode_pipeline()
    pipe.build()
    return pipe


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else type(exc).__name__
    return message[:limit]
