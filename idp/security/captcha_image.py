"""A distorted-text image for the CAPTCHA, drawn as SVG on the server (no font, no service).

Each character is a polyline from a small stroke font below, jittered point by point, scaled,
rotated and shifted at random, then the whole line is bent by a sine wave. Crossing curves and
dots in the same colours are mixed in, and every element is written in random order, so the
document order says nothing about the reading order and no `<text>` element carries the answer.
"""

from __future__ import annotations

import math
import secrets
from random import Random

# Characters that do not look alike once distorted: no 0/O/D-like pairs beyond D, no 1/I/L,
# 2/Z, 5/S, 8/B, G/6, Q.
ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
WIDTH = 240
HEIGHT = 80

Stroke = tuple[tuple[float, float], ...]

# Strokes on a 10 × 14 grid, y downwards.
GLYPHS: dict[str, tuple[Stroke, ...]] = {
    "A": (((0, 14), (5, 0), (10, 14)), ((2, 8), (8, 8))),
    "C": (((10, 2), (8, 0), (2, 0), (0, 3), (0, 11), (2, 14), (8, 14), (10, 12)),),
    "D": (((0, 0), (0, 14), (6, 14), (10, 10), (10, 4), (6, 0), (0, 0)),),
    "E": (((10, 0), (0, 0), (0, 14), (10, 14)), ((0, 7), (7, 7))),
    "F": (((10, 0), (0, 0), (0, 14)), ((0, 7), (7, 7))),
    "H": (((0, 0), (0, 14)), ((10, 0), (10, 14)), ((0, 7), (10, 7))),
    "J": (((10, 0), (10, 11), (7, 14), (3, 14), (0, 11)),),
    "K": (((0, 0), (0, 14)), ((10, 0), (0, 8)), ((3, 6), (10, 14))),
    "M": (((0, 14), (0, 0), (5, 8), (10, 0), (10, 14)),),
    "N": (((0, 14), (0, 0), (10, 14), (10, 0)),),
    "P": (((0, 14), (0, 0), (8, 0), (10, 2), (10, 5), (8, 7), (0, 7)),),
    "R": (((0, 14), (0, 0), (8, 0), (10, 2), (10, 5), (8, 7), (0, 7)), ((5, 7), (10, 14))),
    "T": (((0, 0), (10, 0)), ((5, 0), (5, 14))),
    "U": (((0, 0), (0, 11), (3, 14), (7, 14), (10, 11), (10, 0)),),
    "V": (((0, 0), (5, 14), (10, 0)),),
    "W": (((0, 0), (2, 14), (5, 5), (8, 14), (10, 0)),),
    "X": (((0, 0), (10, 14)), ((10, 0), (0, 14))),
    "Y": (((0, 0), (5, 7), (10, 0)), ((5, 7), (5, 14))),
    "3": (
        ((0, 1), (3, 0), (8, 0), (10, 2), (10, 5), (7, 7), (3, 7)),
        ((7, 7), (10, 9), (10, 12), (8, 14), (2, 14), (0, 13)),
    ),
    "4": (((7, 14), (7, 0), (0, 10), (10, 10)),),
    "6": (
        ((9, 1), (6, 0), (3, 0), (0, 4), (0, 11), (3, 14), (7, 14)),
        ((7, 14), (10, 11), (10, 9), (7, 7), (3, 7), (0, 9)),
    ),
    "7": (((0, 0), (10, 0), (4, 14)),),
    "9": (
        ((10, 5), (7, 7), (3, 7), (0, 5), (0, 3), (3, 0), (7, 0), (10, 3)),
        ((10, 3), (10, 10), (7, 14), (3, 14), (1, 13)),
    ),
}

# Dark inks on a light background: every one keeps a contrast of at least 7:1 with it.
INKS = ("#161616", "#000091", "#3a3a3a", "#5a1a00", "#1f4e3d")
BACKGROUND = "#f5f5fe"


def random_text(length: int = 5) -> str:
    """Characters to copy, drawn with the system's secure generator."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _path(points: list[tuple[float, float]]) -> str:
    head, *rest = points
    return f"M{head[0]:.1f} {head[1]:.1f}" + "".join(f"L{x:.1f} {y:.1f}" for x, y in rest)


def render(text: str, rng: Random | None = None) -> str:
    """The SVG document showing text distorted (a str, for a data: URL or a response)."""
    rng = rng or secrets.SystemRandom()
    amplitude, period, phase = rng.uniform(3, 6), rng.uniform(40, 70), rng.uniform(0, 2 * math.pi)
    ink = rng.choice(INKS)

    def bend(x: float, y: float) -> tuple[float, float]:
        return x, y + amplitude * math.sin(x / period + phase)

    elements = []
    step = (WIDTH - 30) / max(len(text), 1)
    for i, char in enumerate(text):
        scale = rng.uniform(2.1, 2.7)
        angle = math.radians(rng.uniform(-28, 28))
        cx = 15 + step * (i + 0.5) + rng.uniform(-4, 4)
        cy = HEIGHT / 2 + rng.uniform(-7, 7)
        cos, sin = math.cos(angle), math.sin(angle)
        width = rng.uniform(2.6, 3.6)
        for stroke in GLYPHS[char]:
            points = []
            for gx, gy in stroke:
                # Around the glyph's centre, each point a little off the grid.
                dx = (gx - 5 + rng.uniform(-0.6, 0.6)) * scale
                dy = (gy - 7 + rng.uniform(-0.6, 0.6)) * scale
                points.append(bend(cx + dx * cos - dy * sin, cy + dx * sin + dy * cos))
            elements.append(
                f'<path d="{_path(points)}" fill="none" stroke="{ink}" '
                f'stroke-width="{width:.1f}" stroke-linecap="round" stroke-linejoin="round"/>'
            )
    for _ in range(rng.randint(5, 7)):
        # Curves across the text, as thick as some strokes: they cannot be filtered by width.
        x0, x1 = rng.uniform(0, WIDTH / 3), rng.uniform(2 * WIDTH / 3, WIDTH)
        y0, y1, yc = (rng.uniform(8, HEIGHT - 8) for _ in range(3))
        elements.append(
            f'<path d="M{x0:.1f} {y0:.1f}Q{WIDTH / 2:.1f} {yc:.1f} {x1:.1f} {y1:.1f}" '
            f'fill="none" stroke="{rng.choice(INKS)}" stroke-width="{rng.uniform(1, 2.8):.1f}"/>'
        )
    for _ in range(rng.randint(25, 40)):
        elements.append(
            f'<circle cx="{rng.uniform(0, WIDTH):.1f}" cy="{rng.uniform(0, HEIGHT):.1f}" '
            f'r="{rng.uniform(0.6, 1.8):.1f}" fill="{rng.choice(INKS)}"/>'
        )
    rng.shuffle(elements)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">'
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="{BACKGROUND}"/>'
        + "".join(elements)
        + "</svg>"
    )
