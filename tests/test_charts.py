"""Charts: every kind draws valid, small, deterministic SVG; bad specs never raise."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from auditor.render.charts import CHART_KINDS, chart_png, chart_svg

FIXTURE = Path(__file__).parent / "fixtures" / "report_small.json"
SVG_NS = "http://www.w3.org/2000/svg"
XSS = "<script>alert(1)</script>"

SPECS = {
    "histogram": {
        "kind": "histogram", "title": "income", "x_label": "income",
        "edges": [None, 10, 20, 35, None],
        "series": {"reference": [0.25, 0.25, 0.25, 0.25], "current": [0.1, 0.2, 0.3, 0.4]},
    },
    "bars": {
        "kind": "bars", "title": "region", "categories": ["north", XSS, "$5 & up", 'a"b'],
        "series": {"reference": [0.4, 0.3, 0.2, 0.1], "current": [0.3, 0.3, 0.3, 0.1]}, "y_label": "share",
    },
    "line": {
        "kind": "line", "title": "PSI per day", "x": ["d1", "d2", "d3", "d4"],
        "series": {"psi": [0.01, None, 0.2, 0.3]}, "thresholds": [{"value": 0.1, "label": "warn"}],
    },
    "interval": {
        "kind": "interval", "title": "selection rate", "categories": ["A", "B", "(missing)"],
        "values": [0.4, 0.3, None], "lower": [0.35, 0.2, None], "upper": [0.45, 0.4, None],
        "reference_line": {"value": 0.4, "label": "highest"}, "x_label": "rate",
    },
    "reliability": {
        "kind": "reliability", "title": "calibration", "predicted": [0.1, 0.5, 0.9],
        "observed": [0.12, None, 0.85], "counts": [100, 0, 40],
    },
    "curve": {
        "kind": "curve", "title": "ROC curve", "diagonal": True, "x_label": "false positive rate",
        "series": {"reference": {"x": [0, 0.2, 1], "y": [0, 0.7, 1]}, "current": {"x": [0, 0.3, None, 1],
                                                                                   "y": [0, 0.6, None, 1]}},
    },
    "confusion": {
        "kind": "confusion", "title": "Confusion matrix", "labels": ["<50K", ">50K"],
        "panels": [{"name": "all rows", "matrix": [[10, 5], [3, 80]]}, {"name": XSS, "matrix": [[0, 0], [0, 0]]}],
    },
    "heatmap": {
        "kind": "heatmap", "title": "PSI per window", "x": ["d1", "d2", "d3"], "y": ["income", XSS],
        "values": [[0.01, None, 0.3], [0.0, 0.02, 0.05]], "thresholds": [{"value": 0.1, "label": "warn"}],
    },
}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{{{SVG_NS}}}svg"
    return root


def ids_of(svg: str) -> list[str]:
    return re.findall(r' id="([^"]+)"', svg)


def test_every_kind_has_a_spec_here():
    assert set(SPECS) == set(CHART_KINDS)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_kind_renders_valid_svg(kind):
    svg = chart_svg(SPECS[kind], figure_id=f"fig-{kind}")
    root = parse(svg)
    assert "chart-placeholder" not in root.get("class", "")
    assert not svg.startswith("<?xml")  # inline in HTML: no XML declaration, no DOCTYPE
    assert "<!DOCTYPE" not in svg and "<metadata" not in svg
    assert len(svg) < 25_000  # the HTML report must stay under 1 MB for 50 columns
    texts = "".join(root.itertext())
    assert SPECS[kind]["title"] in texts


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_ids_are_prefixed_and_every_reference_resolves(kind):
    svg = chart_svg(SPECS[kind], figure_id="fig7")
    ids = ids_of(svg)
    assert ids and all(i.startswith("fig7-") for i in ids)
    assert len(ids) == len(set(ids))
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', svg))
    assert refs <= set(ids)
    assert "xlink" not in svg


def test_two_figures_on_one_page_share_no_id():
    a = ids_of(chart_svg(SPECS["histogram"], figure_id="fig1"))
    b = ids_of(chart_svg(SPECS["histogram"], figure_id="fig2"))
    assert not set(a) & set(b)


def test_figure_id_is_reduced_to_safe_characters():
    svg = chart_svg(SPECS["line"], figure_id='x" onload="alert(1)')
    assert not any("onload" in el.attrib for el in parse(svg).iter())
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids_of(svg))


def test_text_is_escaped_and_parsed_back_literally():
    svg = chart_svg(SPECS["bars"], figure_id="f")
    assert "<script" not in svg
    texts = [t.text for t in parse(svg).iter(f"{{{SVG_NS}}}text")]
    assert any(t and t.startswith("<script>alert(1)") for t in texts)
    assert "$5 & up" in texts  # a dollar sign is text, not mathtext


def test_no_urls_but_the_svg_namespace():
    for kind, spec in SPECS.items():
        svg = chart_svg(spec, figure_id="f")
        assert re.findall(r"https?://[^\s\"']+", svg) == [SVG_NS], kind


def test_same_spec_same_bytes():
    assert chart_svg(SPECS["reliability"], figure_id="f") == chart_svg(SPECS["reliability"], figure_id="f")


def test_same_bytes_in_another_process_with_another_hash_seed():
    code = (
        "import json, sys; from auditor.render.charts import chart_svg; "
        "sys.stdout.write(chart_svg(json.loads(sys.argv[1]), figure_id='f'))"
    )
    spec = json.dumps(SPECS["histogram"])
    outs = {
        subprocess.run([sys.executable, "-c", code, spec], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}, cwd=Path(__file__).parent.parent).stdout
        for seed in ("1", "2")
    }
    assert len(outs) == 1
    assert outs == {chart_svg(SPECS["histogram"], figure_id="f")}


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "sankey", "title": "unknown"},
        {"title": "no kind"},
        "not a mapping",
        None,
        {"kind": "histogram", "edges": [0, 1], "series": {"current": [0.5, 0.5]}},  # wrong length
        {"kind": "bars", "categories": ["a"], "series": {}},
        {"kind": "line", "x": "d1"},
        {"kind": "interval", "categories": ["a"], "values": ["x"]},
        {"kind": "reliability"},
        {"kind": "curve", "series": {"a": {"x": [0, 1], "y": [0]}}},
        {"kind": "confusion", "panels": [{"name": "x", "matrix": [[1, 2, 3]]}]},
        {"kind": "heatmap", "x": ["a"], "y": ["r1", "r2"], "values": [[1]]},
    ],
)
def test_bad_specs_become_a_placeholder_not_an_error(spec):
    svg = chart_svg(spec, figure_id="f")
    root = parse(svg)
    assert "chart-placeholder" in root.get("class", "")
    assert chart_png(spec).startswith(b"\x89PNG")


def test_unknown_kind_placeholder_says_which_kind():
    svg = chart_svg({"kind": "<sankey>"}, figure_id="f")
    assert "&lt;sankey&gt;" in svg and "<sankey>" not in svg


@pytest.mark.parametrize(
    "spec",
    [
        {"kind": "line", "title": "all null", "x": ["a", "b"], "series": {"s": [None, None]}, "thresholds": []},
        {"kind": "interval", "title": "all null", "categories": ["a", "b"], "values": [None, None],
         "lower": [None, None], "upper": [None, None], "reference_line": None, "x_label": ""},
        {"kind": "bars", "title": "no categories", "categories": [], "series": {"s": []}},
        {"kind": "histogram", "title": "many bins", "edges": list(range(41)),
         "series": {"reference": [1 / 40] * 40, "current": [1 / 40] * 40}},
        {"kind": "bars", "title": "legend", "categories": ["a"], "series": {"_hidden": [1], "$x$": [2]}},
    ],
)
def test_edge_cases_draw_a_real_chart(spec):
    root = parse(chart_svg(spec, figure_id="f"))
    assert "chart-placeholder" not in root.get("class", "")


@pytest.mark.parametrize("line", [0.2, {"value": 0.2, "label": "overall 20%"}])
def test_bars_draw_a_reference_line(line):
    spec = {**SPECS["bars"], "reference_line": line}
    svg = chart_svg(spec, figure_id="f")
    assert "chart-placeholder" not in parse(svg).get("class", "")
    assert svg.count("stroke-dasharray") == 1
    assert ("overall 20%" in svg) == isinstance(line, dict)


def test_close_thresholds_are_labelled_on_both_sides():
    spec = {**SPECS["line"], "thresholds": [{"value": 0.1, "label": "warn"}, {"value": 0.11, "label": "fail"}]}
    anchors = re.findall(r'text-anchor="(\w+)"[^>]*>(warn|fail)<', chart_svg(spec, figure_id="f"))
    assert sorted(anchors) == [("end", "warn"), ("start", "fail")]


def test_many_categories_are_capped_and_counted():
    spec = {"kind": "bars", "title": "cities", "categories": [f"city {i}" for i in range(57)],
            "series": {"current": list(range(57))}}
    texts = "".join(parse(chart_svg(spec, figure_id="f")).itertext())
    assert "+37 more" in texts
    assert "city 19" in texts and "city 20" not in texts


def test_open_histogram_edges_are_labelled():
    texts = "".join(parse(chart_svg(SPECS["histogram"], figure_id="f")).itertext())
    assert "−∞" in texts and "+∞" in texts


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_png(kind):
    png = chart_png(SPECS[kind], dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == chart_png(SPECS[kind], dpi=50)


def test_fixture_charts_cover_every_kind():
    report = json.loads(FIXTURE.read_text())
    kinds = {c.get("kind") for check in report["checks"] for c in check["evidence"]["charts"]}
    assert set(CHART_KINDS) <= kinds
    assert kinds - set(CHART_KINDS)  # and one the renderer does not know
