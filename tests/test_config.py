import json
from pathlib import Path

import pytest

from auditor import load_config
from auditor.cli import main
from auditor.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audit.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("datasets:\n  refrence: {path: r.parquet}\n  current: {path: c.parquet}\n",
         "datasets.refrence: unknown key (did you mean 'datasets.reference'?)"),
        ("datasets:\n  current: {path: c.parquet}\ncolumns: {lable: y}\n",
         "columns.lable: unknown key (did you mean 'columns.label'?)"),
        ("datasets:\n  current: {path: c.parquet}\nproject:\n  success_metrics: [{metric: auc, targte: 0.7}]\n",
         "project.success_metrics[0].targte: unknown key (did you mean 'project.success_metrics[0].target'?)"),
        ("datasets:\n  current: {path: c.parquet, sql: 'select 1'}\n",
         "datasets.current: give exactly one of path, sql or table"),
        ("datasets:\n  current: {path: c.parquet}\ntask: clasification\n", "task: must be 'binary_classification', 'multiclass' or 'regression', got 'clasification'"),
        ("datasets:\n  current: {path: c.parquet}\nmonitoring: {window: 3x}\n", "monitoring.window: '3x' is not a window"),
        ("project: {name: x}\n", "datasets: required key is missing"),
        ("datasets: [1, 2\n", "invalid YAML"),
        ("- just a list\n", "must be a YAML mapping"),
        ("version: 2\ndatasets:\n  current: {path: c.parquet}\n", "version: must be 1, got 2"),
    ],
)
def test_config_errors_are_one_line_with_path_and_hint(tmp_path, text, expected):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert expected in message
    assert "\n" not in message
    assert message.startswith(str(tmp_path / "audit.yaml"))


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    config = load_config(write(tmp_path, "datasets:\n  current: {path: data/c.parquet}\n"))
    assert config.resolve("data/c.parquet") == tmp_path / "data" / "c.parquet"
    assert config.columns.sensitive == []


def test_sensitive_accepts_a_single_name(tmp_path):
    config = load_config(write(tmp_path, "datasets:\n  current: {path: c.parquet}\ncolumns: {sensitive: sex}\n"))
    assert config.columns.sensitive == ["sex"]


def test_unknown_check_and_option_are_config_errors(project, capsys):
    path = project(config={"checks": {"data.nul_rate": {"warn": 0.1}}})
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("checks.data.nul_rate: unknown check (did you mean 'data.null_rate'?)")
    assert len(err.splitlines()) == 1

    path = project(config={"checks": {"data.null_rate": {"wran": 0.1}}})
    assert main(["run", str(path)]) == 2
    assert "checks.data.null_rate.wran: unknown option (did you mean 'warn'?)" in capsys.readouterr().err


def test_config_schema_is_json_schema_of_the_yaml(capsys):
    assert main(["config-schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"datasets", "columns", "checks", "project", "schema"} <= set(schema["properties"])
    assert "base_dir" not in schema["properties"]
