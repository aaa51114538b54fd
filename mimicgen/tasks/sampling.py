"""``sample(spec, index)``: run a task's sampler query by query and build :class:`Query` objects.

Every query q is independent: its draws come from ``SeedSequence([seed, q, stream])`` and its
balancing target from q alone, so sampling any subset of query numbers (a shard) gives exactly
the queries the full run gives for those numbers. A candidate is emitted only after its answer
is re-derived from the images' facts (:mod:`mimicgen.tasks.derive`). No image set repeats within
a spec (:mod:`mimicgen.tasks.distinct`): a query whose set an earlier query holds is redrawn, so
a range starting after query 0 first replays the queries before it, unless the previous call
for the same spec and index ended where it starts (chunks sampled in order cost nothing extra).
"""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel

from mimicgen.errors import SpecError
from mimicgen.gc_pause import gc_paused
from mimicgen.index.table import AnnotationIndex
from mimicgen.progress import track
from mimicgen.specs.models import AnyTaskSpec
from mimicgen.tasks.derive import AnswerError, ImageFacts
from mimicgen.tasks.distinct import REDRAWS, DistinctSets, image_set, redraw_rng
from mimicgen.tasks.prepared import PreparedIndex, prepare
from mimicgen.tasks.query import Query, QueryImage
from mimicgen.tasks.registry import get_sampler
from mimicgen.tasks.shared import Draft, TaskSampler, query_rng
from mimicgen.templates.loader import TemplateSet, load_template_set
from mimicgen.templates.render import class_phrase, render_question

__all__ = [
    "distinct_one",
    "image_facts",
    "make_sampler",
    "redraw_query",
    "sample",
    "sample_with_facts",
]

M = TypeVar("M", bound=BaseModel)


def make_sampler(spec: AnyTaskSpec, index: AnnotationIndex) -> TaskSampler:
    """The task's sampler over ``index`` (precomputes candidate arrays; may raise
    ``SamplingError`` when the spec is impossible on this index)."""
    prep = prepare(index, spec.presence)
    cls = get_sampler(spec.task)
    return cls(spec, prep)  # type: ignore[no-any-return]


def image_facts(prep: PreparedIndex, images: list[int]) -> list[ImageFacts]:
    """The derive-level facts of each image (every class present)."""
    return prep.facts(images)  # type: ignore[return-value]


_SET = object.__setattr__


def _construct(cls: type[M], values: dict[str, Any]) -> M:
    """``cls.model_construct(**values)`` for a model with no aliases, extras, private attributes
    or post-init, given every field in declaration order: the same object without pydantic's
    per-field loop (~7 us a call; a query builds one per image)."""
    m = cls.__new__(cls)
    _SET(m, "__dict__", values)
    _SET(m, "__pydantic_fields_set__", set(values))
    _SET(m, "__pydantic_extra__", None)
    _SET(m, "__pydantic_private__", None)
    return m


def _build_query(
    rng: np.random.Generator,
    spec: AnyTaskSpec,
    q: int,
    draft: Draft,
    facts: list[ImageFacts],
    prep: PreparedIndex,
    templates: TemplateSet,
) -> Query:
    order = rng.permutation(len(draft.images))
    slot = draft.slot
    if spec.task == "counting":
        slot = class_phrase(draft.info["targets"], templates)
    question, template = render_question(
        templates,
        spec.task,
        rng,
        slot,
        multi=draft.k > 1,
    )
    images: list[QueryImage] = []
    relevant, zeros = draft.relevant, draft.zeros
    source_ids, file_names = prep.source_ids, prep.file_names
    for pos, j in enumerate(order.tolist()):
        img, f = draft.images[j], facts[j]
        if relevant is None:
            counts = {c: v.n_instances for c, v in f.items()}
        elif zeros:
            counts = {c: f[c].n_instances if c in f else 0 for c in relevant}
        else:
            counts = {c: f[c].n_instances for c in relevant if c in f}
        # Unvalidated construction: fields are built here from validated data; skipping
        # re-validation keeps the Table 1 suite within its time budget.
        images.append(
            _construct(
                QueryImage,
                {
                    "image_idx": img,
                    "source_id": source_ids[img],
                    "file_name": file_names[img],
                    "position": pos,
                    "role": draft.roles[j],
                    "class_counts": counts,
                },
            )
        )
    return _construct(
        Query,
        {
            "id": f"{spec.name}-{q:06d}",
            "task": spec.task,
            "question": question,
            "answer": draft.answer,
            "answer_text": draft.answer_text,
            "images": images,
            "controls": draft.controls,
            "template": template,
        },
    )


def sample(
    spec: AnyTaskSpec, index: AnnotationIndex, query_numbers: range | None = None
) -> list[Query]:
    """Sample the spec's queries (or only ``query_numbers``, a sub-range of
    ``range(spec.num_queries)``) from ``index``. Deterministic; raises ``SamplingError`` naming
    the failed constraint and the candidate counts rather than return fewer queries."""
    return [query for query, _ in sample_with_facts(spec, index, query_numbers)]


def sample_with_facts(
    spec: AnyTaskSpec,
    index: AnnotationIndex,
    query_numbers: range | None = None,
    *,
    sampler: TaskSampler | None = None,
    distinct: bool = True,
) -> list[tuple[Query, list[ImageFacts]]]:
    """:func:`sample`, each query paired with its images' facts in presented order (the
    re-check already derived them, so the training writer need not). ``sampler``: one already
    made by :func:`make_sampler` for this spec and index (reused across query ranges).
    ``distinct=False``: each query's first draw, repeats of earlier image sets kept (for a
    caller that resolves them in query order itself with :class:`DistinctSets`)."""
    numbers = range(spec.num_queries) if query_numbers is None else query_numbers
    if len(numbers) and (min(numbers) < 0 or max(numbers) >= spec.num_queries):
        raise SpecError(
            f"query numbers {numbers.start}..{numbers.stop - 1} fall outside the spec's "
            f"{spec.num_queries} queries"
        )
    if sampler is None:
        sampler = make_sampler(spec, index)
    templates = load_template_set(spec.templates)
    with gc_paused():
        if not distinct:
            return [
                _sample_one(sampler, spec, q, templates)
                for q in track(numbers, f"sampling {spec.name}", total=len(numbers))
            ]
        sets = _distinct_sets(spec, index)
        if len(numbers) and sets.next != numbers[0]:
            if sets.next > numbers[0]:
                sets.reset()
            earlier = range(sets.next, numbers[0])
            for q in track(earlier, f"replaying {spec.name}", total=len(earlier)):
                distinct_one(sampler, spec, q, templates, sets)
        return [
            distinct_one(sampler, spec, q, templates, sets)
            for q in track(numbers, f"sampling {spec.name}", total=len(numbers))
        ]


def distinct_one(
    sampler: TaskSampler,
    spec: AnyTaskSpec,
    q: int,
    templates: TemplateSet,
    sets: DistinctSets,
    first: tuple[Query, list[ImageFacts]] | None = None,
) -> tuple[Query, list[ImageFacts]]:
    """Query ``q`` (``first``: its first draw, if already made) redrawn until no earlier query
    of ``sets`` holds its image set; ``q`` must be ``sets.next``."""
    if first is None:
        first = _sample_one(sampler, spec, q, templates)
    return sets.accept(
        q,
        first,
        lambda pair: image_set(pair[0].images),
        lambda r: redraw_query(sampler, spec, q, r),
    )


def redraw_query(
    sampler: TaskSampler, spec: AnyTaskSpec, q: int, r: int
) -> tuple[Query, list[ImageFacts]]:
    """Redraw ``r`` (>= 1) of query ``q``, with its facts in presented order (the second half
    of the redraws skip answer balancing: the balanced class may have no unused set left)."""
    return _sample_one(
        sampler,
        spec,
        q,
        load_template_set(spec.templates),
        redraw_rng(spec.seed, q, r),
        _unbalanced(spec) if 2 * r > REDRAWS else 0,
    )


def _unbalanced(spec: AnyTaskSpec) -> int:
    """The first attempt number at which common/odd-one stop using the balanced answer class."""
    return max(1, spec.max_attempts // 3)


#: The taken image sets of recent (spec, index) pairs, so chunks sampled in order continue where
#: the previous chunk ended instead of replaying the queries before them.
_SETS: OrderedDict[tuple[Any, int], tuple[weakref.ref[AnnotationIndex], DistinctSets]] = (
    OrderedDict()
)
_SETS_KEPT = 8


def _distinct_sets(spec: AnyTaskSpec, index: AnnotationIndex) -> DistinctSets:
    key = (spec, id(index))
    hit = _SETS.get(key)
    if hit is not None and hit[0]() is index:
        _SETS.move_to_end(key)
        return hit[1]
    sets = DistinctSets(spec.task, spec.name, spec.num_queries)
    _SETS[key] = (weakref.ref(index), sets)
    while len(_SETS) > _SETS_KEPT:
        _SETS.popitem(last=False)
    return sets


def _sample_one(
    sampler: TaskSampler,
    spec: AnyTaskSpec,
    q: int,
    templates: TemplateSet,
    rng: np.random.Generator | None = None,
    first_attempt: int = 0,
) -> tuple[Query, list[ImageFacts]]:
    """Query ``q`` with its facts in presented order, or raise ``SamplingError``
    (``rng``: a redraw's generator instead of the query's own; attempts are numbered from
    ``first_attempt``)."""
    prep = sampler.prep
    rng = query_rng(spec.seed, q) if rng is None else rng
    reasons: Counter[str] = Counter()
    for attempt in range(first_attempt, first_attempt + spec.max_attempts):
        draft = sampler.draw(q, rng, attempt)
        if isinstance(draft, str):
            reasons[draft] += 1
            continue
        facts: list[ImageFacts] = image_facts(prep, draft.images)
        try:
            sampler.verify(draft, facts)
        except AnswerError as exc:
            reasons[f"re-check failed: {exc}"] += 1
            continue
        # Presentation (order, template) draws continue the query's generator after sampling.
        query = _build_query(rng, spec, q, draft, facts, prep, templates)
        by_image = dict(zip(draft.images, facts, strict=True))
        return query, [by_image[i.image_idx] for i in query.images]
    raise sampler.exhausted(q, reasons)
