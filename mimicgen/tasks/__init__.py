"""Task samplers turning an index into queries: one module per task, registered in
:mod:`mimicgen.registry` (counting, listing, common, odd-one, existence)."""

from mimicgen.registry import get_sampler, register_task, registered_tasks
from mimicgen.tasks import (  # noqa: F401  (registration)
    common_task,
    counting,
    existence,
    listing,
    odd_one,
)
from mimicgen.tasks.derive import (
    AnswerError,
    ClassFact,
    common_answer,
    count_answer,
    listing_answer,
    odd_one_answer,
)
from mimicgen.tasks.prepared import PreparedIndex, prepare
from mimicgen.tasks.query import Query, QueryImage
from mimicgen.tasks.sampling import image_facts, make_sampler, sample, sample_with_facts

__all__ = [
    "AnswerError",
    "ClassFact",
    "PreparedIndex",
    "Query",
    "QueryImage",
    "common_answer",
    "count_answer",
    "get_sampler",
    "image_facts",
    "listing_answer",
    "make_sampler",
    "odd_one_answer",
    "prepare",
    "register_task",
    "registered_tasks",
    "sample",
    "sample_with_facts",
]
