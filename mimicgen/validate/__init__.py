"""Independent re-derivation of a built eval set's answers (``mimicgen validate``)."""

from mimicgen.validate.run import ValidationReport, default_source_loader, validate_benchmark

__all__ = ["ValidationReport", "default_source_loader", "validate_benchmark"]
