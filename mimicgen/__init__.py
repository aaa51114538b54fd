"""mimicgen: controlled multi-image benchmarks and diagnostics for vision-language models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mimicgen")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
