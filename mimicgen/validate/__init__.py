"""Independent re-derivation of a built eval set's answers (``mimicgen validate``)."""

from mimicgen.validate.run import ValidationReport, validate_benchmark

__all__ = ["ValidationReport", "validate_benchmark"]
