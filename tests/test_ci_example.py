"""examples/ci/github-actions.yml: the order that matters (reports published before the job fails)."""

from __future__ import annotations

from pathlib import Path

import yaml

from auditor.render.markdown import MARKER

WORKFLOW = Path(__file__).resolve().parents[1] / "examples" / "ci" / "github-actions.yml"


def test_workflow_publishes_everything_before_failing() -> None:
    flow = yaml.safe_load(WORKFLOW.read_text())
    steps = flow["jobs"]["audit"]["steps"]
    names = [s.get("name") or s.get("uses") for s in steps]
    order = ["Run the audit", "Job summary", "Sticky pull-request comment", "Upload the reports",
             "Fail the job when the audit failed"]
    assert [n for n in names if n in order] == order
    audit = steps[names.index("Run the audit")]
    assert "set +e" in audit["run"] and 'echo "code=$?" >> "$GITHUB_OUTPUT"' in audit["run"]
    assert "--format json,html,md,junit" in audit["run"]
    for name in order[1:]:
        assert steps[names.index(name)]["if"].startswith("always()"), name
    assert "$GITHUB_STEP_SUMMARY" in steps[names.index("Job summary")]["run"]
    comment = steps[names.index("Sticky pull-request comment")]
    assert f"const marker = '{MARKER}';" in comment["with"]["script"]
    assert "updateComment" in comment["with"]["script"] and "createComment" in comment["with"]["script"]
    assert "report.html" in steps[names.index("Upload the reports")]["with"]["path"]
    assert flow["permissions"]["pull-requests"] == "write"
    assert flow[True] == {"pull_request": None}  # YAML 1.1 reads the key `on` as true


def test_the_pull_request_diff_workflow_audits_both_sides_then_comments_then_fails() -> None:
    from auditor.render.diff import DIFF_MARKER

    flow = yaml.safe_load((WORKFLOW.parent / "pull-request-diff.yml").read_text())
    steps = flow["jobs"]["diff"]["steps"]
    names = [s.get("name") or s.get("uses") for s in steps]
    order = ["Audit the base", "Audit the head", "Diff base and head", "Job summary", "Sticky pull-request comment",
             "Upload the reports", "Fail the job when the change adds a failure"]
    assert [n for n in names if n in order] == order
    assert steps[0]["with"]["fetch-depth"] == 0
    for name in order[:3]:
        assert "set +e" in steps[names.index(name)]["run"] and 'echo "code=$?"' in steps[names.index(name)]["run"]
    assert "pull_request.base.sha" in steps[names.index("Audit the base")]["run"]
    assert 'auditor diff "$REPORTS/base" "$REPORTS/head" --out "$REPORTS/diff.md"' in \
        steps[names.index("Diff base and head")]["run"]
    for name in order[3:]:
        assert steps[names.index(name)]["if"].startswith("always()"), name
    assert f"const marker = '{DIFF_MARKER}';" in steps[names.index("Sticky pull-request comment")]["with"]["script"]
    assert flow["permissions"]["pull-requests"] == "write" and flow[True] == {"pull_request": None}
