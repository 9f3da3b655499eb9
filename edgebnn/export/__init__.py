"""Exporters from a trained PyTorch model to deployable forms."""
from edgebnn.export.ebnn import ExportError, export_model, export_run

__all__ = ["ExportError", "export_model", "export_run"]
