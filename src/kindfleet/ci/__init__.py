"""`kindfleet ci`: a CI workflow for a fleet (GitHub Actions or GitLab CI), as data."""

from kindfleet.ci.workflow import (
    CiOptions,
    command_line,
    entries,
    github,
    gitlab,
    problems,
    to_yaml,
    written_by_kindfleet,
)

__all__ = [
    "CiOptions",
    "command_line",
    "entries",
    "github",
    "gitlab",
    "problems",
    "to_yaml",
    "written_by_kindfleet",
]
