"""Draw the app icons (a poster on a pole over a queue of dots) as PNG with the standard library only.

Run from the repository root: `python static/icons/make_icons.py`. The SVG icon (icon.svg) is the same drawing.
"""
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
BG, POSTER, POLE, DOT = (27, 58, 92), (255, 210, 63), (255, 255, 255), (255, 255, 255)


def shapes(n: int, pad: float) -> list:
    """Rectangles and circles in an n x n square; `pad` shrinks the drawing (maskable icons need a safe zone)."""
    s = lambda v: pad * n + v * n * (1 - 2 * pad)  # noqa: E731 (0..1 -> pixels)
    return [("rect", s(0.22), s(0.14), s(0.78), s(0.52), POSTER),   # the poster
            ("rect", s(0.47), s(0.52), s(0.53), s(0.86), POLE),     # its pole
            ("circ", s(0.14), s(0.80), n * (1 - 2 * pad) * 0.055, DOT),
            ("circ", s(0.30), s(0.80), n * (1 - 2 * pad) * 0.055, DOT),
            ("circ", s(0.70), s(0.80), n * (1 - 2 * pad) * 0.055, DOT),
            ("circ", s(0.86), s(0.80), n * (1 - 2 * pad) * 0.055, DOT)]


def pixel(x: float, y: float, items: list) -> tuple:
    """The colour at one point (last shape wins)."""
    colour = BG
    for it in items:
        if it[0] == "rect" and it[1] <= x < it[3] and it[2] <= y < it[4]:
            colour = it[5]
        elif it[0] == "circ" and (x - it[1]) ** 2 + (y - it[2]) ** 2 <= it[3] ** 2:
            colour = it[4]
    return colour


def png(n: int, pad: float = 0.0) -> bytes:
    """An RGB PNG of the icon."""
    items = shapes(n, pad)
    rows = b"".join(b"\x00" + bytes(c for x in range(n) for c in pixel(x + .5, y + .5, items)) for y in range(n))
    chunk = lambda tag, data: (struct.pack(">I", len(data)) + tag + data  # noqa: E731
                               + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    for size in (180, 192, 512):
        (HERE / f"icon-{size}.png").write_bytes(png(size))
    (HERE / "icon-maskable-512.png").write_bytes(png(512, pad=0.1))
