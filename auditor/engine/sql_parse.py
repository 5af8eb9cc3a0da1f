"""What a query reads, by DuckDB's own parser (`json_serialize_sql`): nothing is bound or read.

auditor's SQL is written in DuckDB's dialect whatever engine runs it, and a config's `sql:` datasets are
DuckDB SQL on DuckDB, so one private connection parses both: the provenance fingerprints what a query
reads, the attach orders `sql:` datasets by what they read, and the reference cache keeps only the
answers of statements that read nothing but the reference.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

FILE_READERS = {  # DuckDB's table functions that read files, by the format of what they read
    "read_parquet": "parquet", "parquet_scan": "parquet",
    **{f: "csv" for f in ("read_csv", "read_csv_auto", "sniff_csv")},
    **{f: "json" for f in ("read_json", "read_json_auto", "read_ndjson", "read_ndjson_auto",
                           "read_json_objects", "read_ndjson_objects", "read_json_objects_auto")},
}
# Table functions whose rows come from their arguments alone: the SQL text pins them down.
PURE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "values"})

_parser: duckdb.DuckDBPyConnection | None = None  # parsing is not a query of the run: no log counts it


def parse_tree(sql: str) -> dict[str, Any]:
    """DuckDB's parse tree of `sql`; ValueError with DuckDB's message when it cannot parse it."""
    global _parser
    if _parser is None:
        _parser = duckdb.connect()
    try:
        tree = json.loads(_parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.Error as exc:
        raise ValueError(str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot parse") from None
    if tree.get("error"):
        raise ValueError(tree.get("error_message") or "cannot parse")
    return tree


def sql_inputs(sql: str) -> tuple[list[str], list[tuple[str, list[str]]], list[str]]:
    """What a query reads, by DuckDB's parser: (table names, [(file reader, its path arguments)],
    the table functions it calls that are neither file readers nor pure). Names of its own CTEs are
    not tables. Raises ValueError when DuckDB cannot parse it."""
    tree = parse_tree(sql)
    tables, readers, unknown, ctes = [], [], [], set()

    def constants(node: Any) -> list[str]:
        if isinstance(node, dict):
            if node.get("class") == "CONSTANT":
                return [str(node["literal"].get("text"))] if node.get("literal", {}).get("kind") == "STRING" else []
            return [v for child in node.values() for v in constants(child)]
        if isinstance(node, list):
            return [v for child in node for v in constants(child)]
        return []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for entry in (node.get("cte_map") or {}).get("map") or []:
                ctes.add(str(entry.get("key", "")).lower())
            kind = node.get("type")
            if kind == "BASE_TABLE":
                name = ".".join(p for p in (node.get("catalog_name"), node.get("schema_name"), node.get("table_name")) if p)
                tables.append(name)
            elif kind == "TABLE_FUNCTION":
                function = node.get("function") or {}
                name = str(function.get("function_name", "")).lower()
                if name in FILE_READERS:
                    arguments = function.get("arguments") or []
                    readers.append((name, constants(arguments[0]) if arguments else []))
                elif name not in PURE_FUNCTIONS:
                    unknown.append(name)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(tree["statements"])
    return [t for t in dict.fromkeys(tables) if t.lower() not in ctes], readers, list(dict.fromkeys(unknown))
