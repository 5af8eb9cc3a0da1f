"""`python -m auditor` is the `auditor` command."""

from auditor.cli import entry

if __name__ == "__main__":
    entry()
