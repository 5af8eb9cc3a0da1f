"""The charts' canvas: font widths as matplotlib measures them, round ticks, SVG without matplotlib."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import text_to_path

from auditor.render.font_widths import BOLD, REGULAR
from auditor.render.svgplot import Canvas, nice_ticks, text_width

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("table, weight", [(REGULAR, "normal"), (BOLD, "bold")])
def test_font_widths_are_matplotlibs(table, weight):
    prop = FontProperties(family="DejaVu Sans", size=1000, weight=weight)
    for ch, width in table.items():
        assert width == round(text_to_path.get_text_width_height_descent(ch, prop, ismath=False)[0]), ch


def test_a_label_is_as_wide_as_matplotlib_says_give_or_take_kerning():
    label = "credit_history_months (−∞, 32]"
    measured = text_to_path.get_text_width_height_descent(label, FontProperties(family="DejaVu Sans", size=8),
                                                          ismath=False)[0]
    assert text_width(label) == pytest.approx(measured, rel=0.03)


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 0.37, [0, 0.1, 0.2, 0.3, 0.4]),
    (0, 1, [0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    (118.5, 262, [100, 150, 200, 250, 300]),
    (0, 0, [-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6]),  # a single value: a unit around it
    (-3, 7, [-4, -2, 0, 2, 4, 6, 8]),
])
def test_nice_ticks_cover_the_range_in_round_steps(lo, hi, expected):
    ticks = nice_ticks(lo, hi)
    assert ticks == pytest.approx(expected)
    assert ticks[0] <= lo and ticks[-1] >= hi


def test_gaps_break_lines_and_text_is_escaped():
    c = Canvas(100, 50)
    c.polyline([(0, 0), (10, 10), None, (20, 20), (30, 30), (float("nan"), 1), (40, 40)], "#000")
    c.text(5, 5, "<script>&")
    svg = c.svg("f", "t")
    assert svg.count("<polyline") == 2  # the lone (40, 40) draws nothing
    assert "&lt;script&gt;&amp;" in svg and "<script" not in svg


def test_the_html_report_never_imports_matplotlib():
    code = ("import sys, json; from auditor.delivery.files import load_report; from auditor.render.html import "
            "render_html; from pathlib import Path; "
            "render_html(load_report(Path('tests/fixtures/report_small.json'))); "
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.strip() == "False"
