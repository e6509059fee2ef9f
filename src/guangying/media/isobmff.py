"""Boxes of ISO base media files (ISO/IEC 14496-12: MP4, MOV, HEIF), for the few facts no decoder
hands over (a HEIF's item locations, a camera's metadata XML). Only box headers are walked: the
media data is skipped, never read."""

from __future__ import annotations

import struct
from pathlib import Path

_MAX_BOX_READ = 1 << 26  # 64 MiB: a long clip's moov is a few MiB; anything larger is not metadata


def top_level_box(path: Path, kind: bytes) -> bytes | None:
    """The body of the first top-level box ``kind`` of ``path`` (after its header), None without one."""
    with path.open("rb") as file:
        size = file.seek(0, 2)
        position = 0
        while position + 8 <= size:
            file.seek(position)
            header = file.read(16)
            box_size, found = struct.unpack(">I4s", header[:8])
            header_size = 8
            if box_size == 1 and len(header) == 16:
                box_size, header_size = struct.unpack(">Q", header[8:])[0], 16
            elif box_size == 0:
                box_size = size - position
            if box_size < header_size:
                return None
            if found == kind:
                file.seek(position + header_size)
                return file.read(min(box_size - header_size, _MAX_BOX_READ))
            position += box_size
    return None


def child_box(body: bytes, kind: bytes) -> bytes | None:
    """The body of the first box ``kind`` among the boxes that make up ``body``."""
    position = 0
    while position + 8 <= len(body):
        box_size, found = struct.unpack_from(">I4s", body, position)
        if box_size < 8:
            return None
        if found == kind:
            return body[position + 8 : position + box_size]
        position += box_size
    return None
