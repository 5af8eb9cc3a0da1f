"""auditor: batch reports and data-quality audits for machine-learning systems.

The Python API, for notebooks and orchestrators (Airflow, Dagster, a Jupyter cell)::

    from auditor import load_config, run_audit

    report = run_audit(load_config("audit.yaml"))      # or run_audit({...}, base_dir="project/")
    report.status                                      # "pass" | "warn" | "fail" | "error"
    for result in report.failed():                     # the failing and error CheckResults
        print(result.id, result.subject, result.message)
    html = report.to_html()                            # nothing is written: that is write_reports' job
    write_reports(report, "reports/", ["json", "html", "md"])

Errors a caller can act on are `AuditorError`s: `ConfigError` (a bad config) and `DataError`
(unreadable or missing data). A notebook cell showing an `AuditReport` renders it as HTML.

Names are imported when first used, so `import auditor` (and the `auditor` command) stays fast.
"""

from __future__ import annotations

import importlib
import warnings
from typing import TYPE_CHECKING, Any

from auditor.errors import AuditorError, ConfigError, DataError
from auditor.version import __version__

# With pyspark installed, importing pandera imports pyspark.pandas, which warns twice on every run that
# pandas 3 is not fully supported (auditor uses no pyspark.pandas). Errors stay one line, runs silent.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)

if TYPE_CHECKING:
    from auditor.audit.configure import config_from_dict, load_config
    from auditor.audit.runner import run_audit
    from auditor.delivery.files import load_report, write_reports
    from auditor.report import AuditReport, CheckResult

__all__ = ["AuditReport", "AuditorError", "CheckResult", "ConfigError", "DataError", "__version__",
           "config_from_dict", "load_config", "load_report", "run_audit", "write_reports"]

_LAZY = {
    "load_config": "auditor.audit.configure",
    "config_from_dict": "auditor.audit.configure",
    "run_audit": "auditor.audit.runner",
    "write_reports": "auditor.delivery.files",
    "load_report": "auditor.delivery.files",
    "AuditReport": "auditor.report",
    "CheckResult": "auditor.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'auditor' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
