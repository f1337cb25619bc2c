"""The error of the mjlab adapter."""

from __future__ import annotations

from exploy.exporter.core.errors import ExportError


class MjlabExportError(ExportError):
    """An mjlab task or environment cannot be exported as asked; the message says why and what to do."""
