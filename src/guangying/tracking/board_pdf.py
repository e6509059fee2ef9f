"""Print a marker board: a PDF with one marker per page at its true size (print at 100 %, no scaling).

Written by hand (PDF 1.4: one grey image and a Helvetica caption per page) so no PDF library is needed.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from guangying.base.atomic import check_written_as, write_bytes
from guangying.tracking.board import MarkerBoard, marker_image

_PT_PER_MM = 72.0 / 25.4
# ISO 216 portrait sheets, smallest first: a page a printer takes at 100 % (a 240×297 mm page, just
# wider than A4, was scaled or cut)
_ISO_SHEETS_MM = ((210.0, 297.0), (297.0, 420.0), (420.0, 594.0), (594.0, 841.0), (841.0, 1189.0))
_MARGIN_MM = 20.0


def sheet_size_mm(side_mm: float) -> tuple[float, float]:
    """The smallest ISO sheet holding a marker of ``side_mm`` with its margins and caption; past A0, a
    page of the marker's own size (a plotter's roll)."""
    need_w, need_h = side_mm + 2 * _MARGIN_MM, side_mm + 4 * _MARGIN_MM
    return next(((w, h) for w, h in _ISO_SHEETS_MM if w >= need_w and h >= need_h), (need_w, need_h))


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def board_pdf_bytes(board: MarkerBoard) -> bytes:
    """The PDF document for ``board`` (one page per marker, caption with id and corner positions)."""
    objects: list[bytes] = []  # object k is number k + 1

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    pages_num = add(b"")  # filled in at the end
    page_nums = []
    for marker_id, quad in zip(board.ids, board.corners_m, strict=True):
        side_mm = float(np.mean(np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1))) * 1000.0
        page_w, page_h = sheet_size_mm(side_mm)
        bits = int(board.aruco.markerSize) + 2
        img = marker_image(board, int(marker_id), bits)  # one pixel per bit; the PDF scales it exactly
        data = zlib.compress(img.tobytes())
        image = add(
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
            b"/BitsPerComponent 8 /Interpolate false /Filter /FlateDecode /Length %d >>\nstream\n"
            % (bits, bits, len(data))
            + data
            + b"\nendstream"
        )
        x0 = (page_w - side_mm) / 2 * _PT_PER_MM
        y0 = (page_h - side_mm) / 2 * _PT_PER_MM
        s = side_mm * _PT_PER_MM
        tl = ", ".join(f"{v:.3f}" for v in quad[0])
        caption = _pdf_escape(
            f"{board.dictionary} id {int(marker_id)}   side {side_mm:.1f} mm   top-left corner at ({tl}) m"
        )
        check = _pdf_escape("print at 100 % (no fit to page); measure the side before use")
        content = (
            f"q {s:.3f} 0 0 {s:.3f} {x0:.3f} {y0:.3f} cm /Im0 Do Q\n"
            f"BT /F1 10 Tf {_MARGIN_MM * _PT_PER_MM:.2f} {_MARGIN_MM * _PT_PER_MM:.2f} Td ({caption}) Tj ET\n"
            f"BT /F1 8 Tf {_MARGIN_MM * _PT_PER_MM:.2f} {(_MARGIN_MM - 5) * _PT_PER_MM:.2f} Td ({check}) Tj "
            "ET\n"
        ).encode("latin-1", "replace")
        stream = add(b"<< /Length %d >>\nstream\n" % len(content) + content + b"endstream")
        page_nums.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.3f %.3f] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> /XObject << /Im0 %d 0 R >> >> >>"
                % (pages_num, page_w * _PT_PER_MM, page_h * _PT_PER_MM, stream, font, image)
            )
        )
    kids = b" ".join(b"%d 0 R" % n for n in page_nums)
    objects[pages_num - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_nums))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_num)
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for k, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % k + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        catalog,
        xref,
    )
    return bytes(out)


def write_board_pdf(board: MarkerBoard, path: str | Path) -> Path:
    """Write the printable PDF atomically; returns the path."""
    p = Path(path)
    check_written_as(p, (".pdf",), "the printable board")
    write_bytes(p, board_pdf_bytes(board))
    return p
