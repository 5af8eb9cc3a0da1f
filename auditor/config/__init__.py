"""The config: audit.yaml as pydantic models (`models`) and the reading of the file (`loading`).

May import: `auditor.errors` and `auditor.render.formats` (the one list of output formats). Never
the engine, a check or the audit framework: the config is validated before anything runs.
"""

from auditor.config.loading import closest, describe_error, one_line, parse_config, read_config
from auditor.config.models import (
    CARD_FIELDS,
    ROLES,
    SINGLE_ROLES,
    AuditConfig,
    CatalogTable,
    Columns,
    DatasetSpec,
    EngineSettings,
    ProjectCard,
    Target,
)

__all__ = ["AuditConfig", "CARD_FIELDS", "CatalogTable", "Columns", "DatasetSpec", "EngineSettings", "ProjectCard", "ROLES",
           "SINGLE_ROLES", "Target", "closest", "describe_error", "one_line", "parse_config", "read_config"]
