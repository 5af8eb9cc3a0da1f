"""Documentation stays in step with the code (datasette's habit)."""

import re
from pathlib import Path

from auditor.checks import catalogue

ROOT = Path(__file__).resolve().parents[1]


def test_every_check_has_a_one_line_docstring():
    for spec in catalogue():
        assert spec.description, f"{spec.id} has no docstring"
        assert spec.description.endswith("."), f"{spec.id}: the catalogue line should be a sentence"


def test_every_check_is_in_the_readme_catalogue():
    readme = (ROOT / "README.md").read_text()
    listed = set(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", readme, flags=re.M))
    missing = [spec.id for spec in catalogue() if spec.id not in listed]
    assert not missing, f"add these checks to the README catalogue: {missing}"


def test_makefile_targets_are_all_listed_by_help():
    makefile = (ROOT / "Makefile").read_text()
    targets = re.findall(r"^([a-z]+):", makefile, flags=re.M)
    documented = re.findall(r"^([a-z]+):.*## ", makefile, flags=re.M)
    for required in ("help", "install", "demo", "test", "lint", "golden", "clean"):
        assert required in documented
    assert set(targets) <= set(documented)
