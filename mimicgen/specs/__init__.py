"""Task specs: the shared controls (``BaseTaskSpec``) and YAML loading with ``include:``.

The package only re-exports the public names of :mod:`~mimicgen.specs.models` and
:mod:`~mimicgen.specs.loader`; each submodule's ``__all__`` is the single list of them. Each
task's spec model lives in its task module (``mimicgen.tasks.counting.CountingSpec``, ...) or
through the registry: ``mimicgen.registry.get_task(name).spec``.
"""

from mimicgen.specs import loader, models
from mimicgen.specs.loader import *
from mimicgen.specs.models import *

# ``__all__ += module.__all__`` is the form type checkers follow for re-exports.
__all__: list[str] = []
__all__ += models.__all__
__all__ += loader.__all__
