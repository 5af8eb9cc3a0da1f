"""Errors a user can act on. Each carries its exit code and prints as one line."""

from __future__ import annotations


class AuditorError(Exception):
    """Base: a one-line message for stderr and the process exit code."""

    exit_code = 3


class ConfigError(AuditorError):
    """The config, a schema file or the command line is wrong (exit 2)."""

    exit_code = 2


class DataError(AuditorError):
    """A dataset is missing, unreadable, empty or lacks a declared column (exit 3)."""

    exit_code = 3


class UsageError(ConfigError):
    """The command line is wrong (exit 2)."""
