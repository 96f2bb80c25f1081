"""WebDataset tar shards: `{key}.{jpg|png}`, `{key}.json`, `{key}.mask.png` per sample.

`{key}.mask.png` is the instance map, (H, W) uint8: 0 background, k the object
`objects[k - 1]` of the JSON; where objects overlap, the pixel is the object listed last's
(`generator.render.annotate`). Each object's own whole mask is its `mask_rle` (COCO
compressed RLE).

The bytes are a pure function of the samples: every member header has mtime 0, uid and gid
0, empty user and group names and mode 0o644, and the archive is plain POSIX USTAR (no pax
headers, which would carry times). So a resumed or re-run build writes the very same
shard, and its sha256 in the manifest can verify it.
"""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Sequence

from generator.errors import ShardError
from generator.output.limits import member_size_problem
from generator.output.sample import IMAGE_EXTENSIONS, ShardSample, canonical_json, is_valid_key

_MASK_EXT = "mask.png"
_JSON_EXT = "json"


def _member(name: str, data: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def encode_tar(samples: Sequence[ShardSample], *, classes: Sequence[str] = ()) -> bytes:
    """Encode samples as one WebDataset tar shard, members in sample order.

    Returns the same bytes for the same samples, always (see the module docstring).
    `classes` is not stored: each `{key}.json` names its class (`label_name`); the keyword
    is there so that every format's encode is called the same way.
    """
    buf = io.BytesIO()
    # USTAR, not GNU or PAX: the most widely readable header, and it never adds pax
    # records (atime/ctime) on its own; names longer than USTAR allows raise instead.
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for sample in samples:
            annotation = canonical_json(sample.annotation()).encode("utf-8")
            for ext, data in (
                (sample.image_format, sample.image),
                (_JSON_EXT, annotation),
                (_MASK_EXT, sample.mask_png),
            ):
                tar.addfile(_member(f"{sample.key}.{ext}", data), io.BytesIO(data))
    return buf.getvalue()


def decode_tar(data: bytes) -> list[ShardSample]:
    """Decode a shard written by `encode_tar`, in member order.

    Raises ValueError naming the sample when one lacks its image, JSON or mask member, or
    when a member's extension is not one this format writes; ShardError (a ValueError) for a
    member whose key is not a sample key (`../x`, an absolute path), larger than
    `generator.output.limits.MAX_MEMBER_BYTES` or past the end of the data, and for a JSON
    member that is not UTF-8 or not an object. Nothing is allocated from a header's word alone.
    """
    allowed = {*IMAGE_EXTENSIONS, _JSON_EXT, _MASK_EXT}
    groups: dict[str, dict[str, bytes]] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for info in tar:
            if not info.isfile():
                continue
            # WebDataset's rule: the key is everything before the first ".".
            key, _, ext = info.name.partition(".")
            if not is_valid_key(key):
                raise ShardError("tar", "", f"member {info.name[:60]!r} has no valid sample key")
            if ext not in allowed:
                raise ValueError(f"tar member {info.name!r}: extension must be one of {sorted(allowed)}")
            problem = member_size_problem(info.size)
            if problem or info.offset_data + info.size > len(data):
                raise ShardError("tar", key, problem or f"member {info.name!r} runs past the end of the tar")
            member = tar.extractfile(info)
            assert member is not None  # regular files always have content
            groups.setdefault(key, {})[ext] = member.read()

    samples = []
    for key, parts in groups.items():
        images = [ext for ext in IMAGE_EXTENSIONS if ext in parts]
        if len(images) != 1 or _JSON_EXT not in parts or _MASK_EXT not in parts:
            raise ValueError(
                f"sample {key!r} has members {sorted(parts)}; expected one of {list(IMAGE_EXTENSIONS)}, "
                f"{_JSON_EXT!r} and {_MASK_EXT!r}"
            )
        try:
            annotation = json.loads(parts[_JSON_EXT].decode("utf-8"))
        except UnicodeDecodeError:
            raise ShardError("tar", key, "JSON member is not UTF-8") from None
        if not isinstance(annotation, dict):
            raise ShardError("tar", key, f"JSON member is a {type(annotation).__name__}, not an object")
        if annotation.get("key") != key or annotation.get("image_format") != images[0]:
            raise ValueError(
                f"sample {key!r}: members say key {key!r}, format {images[0]!r}; its JSON says key "
                f"{annotation.get('key')!r}, format {annotation.get('image_format')!r}"
            )
        samples.append(ShardSample.from_annotation(annotation, image=parts[images[0]], mask_png=parts[_MASK_EXT]))
    return samples
