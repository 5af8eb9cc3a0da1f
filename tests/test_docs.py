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


def test_the_configuration_reference_is_current():
    """docs/configuration.md is generated from the JSON Schema: `make docs` after changing a model or an option."""
    from auditor.audit.config_reference import configuration_reference

    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == configuration_reference(), "docs/configuration.md is stale: run `make docs`"


def test_docs_and_readme_link_only_to_files_in_the_repository():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{page.name} points outside the repository"
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if re.match(r"^[a-z]+://|^mailto:", target):
                continue
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


def test_the_docs_name_the_architecture_and_report_contract():
    for name in ("architecture.md", "report-json.md", "configuration.md"):
        assert (ROOT / "docs" / name).is_file(), name
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/architecture.md", "docs/report-json.md", "docs/configuration.md"):
        assert name in readme, f"the README should link {name}"
