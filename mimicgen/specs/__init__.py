"""Task specs: frozen Pydantic models per task and YAML loading with ``include:``.

The package only re-exports the public names of :mod:`~mimicgen.specs.models` and
:mod:`~mimicgen.specs.loader`; each submodule's ``__all__`` is the single list of them.
"""

from mimicgen.specs import loader, models
from mimicgen.specs.loader import *
from mimicgen.specs.models import *

# ``__all__ += module.__all__`` is the form type checkers follow for re-exports.
__all__: list[str] = []
__all__ += models.__all__
__all__ += loader.__all__
