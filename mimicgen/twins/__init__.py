"""Paired controlled twins (``variants:``): family generation, records, generated images and
their validation (docs/tasks.md "Twins"). Imported lazily by the writer, scorer and validator,
so builds without ``variants`` never load it."""

__all__: list[str] = []
