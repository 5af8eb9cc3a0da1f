"""`run.provenance` as the reports show it: a few short lines (fingerprints cut to 12 hex digits,
sizes in KB/MB), shared by the HTML footer, the Markdown and the email."""

from __future__ import annotations

from typing import Any

from auditor.render.filters import fmt_number

SHORT = 12
PACKAGE_NAMES = {"auditor": "auditor", "python": "Python", "duckdb": "DuckDB", "pandera": "pandera",
                 "scipy": "SciPy", "numpy": "NumPy", "pandas": "pandas", "pyarrow": "PyArrow", "pyspark": "PySpark"}


def fmt_bytes(size: Any) -> str:
    """1,234,567 -> '1.2 MB' (decimal units, as file managers show them)."""
    if not isinstance(size, (int, float)) or isinstance(size, bool):
        return "—"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{int(size)} B"


def short(digest: Any) -> str | None:
    return str(digest)[:SHORT] if digest else None


def source_line(name: str, entry: Any) -> dict[str, Any]:
    """One dataset's or catalog table's fingerprint, as `{name, digest, full, detail, missing}`."""
    entry = entry if isinstance(entry, dict) else {}
    files = [f for f in entry.get("files") or [] if isinstance(f, dict)]
    size = sum(f.get("size") or 0 for f in files) if files else None
    parts = [str(entry.get("method") or "")] if entry.get("fingerprint") else []
    if files:
        parts.append(f"{len(files):,} file{'' if len(files) == 1 else 's'}, {fmt_bytes(size)}")
    if entry.get("note"):
        parts.append(str(entry["note"]))
    return {"name": fmt_number(name), "digest": short(entry.get("fingerprint")),
            "full": str(entry.get("fingerprint") or ""), "detail": "; ".join(p for p in parts if p),
            "missing": not entry.get("fingerprint"), "catalog": False}


def provenance_view(run: dict[str, Any]) -> dict[str, Any] | None:
    """The lines a report shows of `run.provenance`; None when the report has none (an older one)."""
    p = run.get("provenance")
    if not isinstance(p, dict):
        return None
    sources = [source_line(n, e) for n, e in (p.get("datasets") or {}).items()]
    sources += [{**source_line(n, e), "catalog": True} for n, e in (p.get("catalog") or {}).items()]
    config = p.get("config") if isinstance(p.get("config"), dict) else {}
    git = config.get("git") if isinstance(config.get("git"), dict) else None
    config_text = f"sha256 {short(config.get('sha256')) or '—'}"
    if git:
        config_text += f" · git {short(git.get('commit'))}" + (" with uncommitted changes" if git.get("dirty") else "")
    packages = p.get("packages") if isinstance(p.get("packages"), dict) else {}
    software = " · ".join(f"{PACKAGE_NAMES.get(k, k)} {v}" for k, v in packages.items() if v)
    engine = p.get("engine") if isinstance(p.get("engine"), dict) else {}
    engine_text = " · ".join(str(x) for x in (
        engine.get("name"), f"{engine['threads']} threads" if engine.get("threads") else None,
        f"memory limit {engine['memory_limit']}" if engine.get("memory_limit") else None,
        f"spills to {engine['temp_directory']}" if engine.get("temp_directory") else None) if x)
    who = "@".join(str(x) for x in (p.get("user"), p.get("host")) if x)
    return {"sources": sources, "config": config_text, "software": software, "engine": engine_text,
            "ran_by": who or None}
