"""Read a benchmark directory and prediction files (plain JSONL, lmms-eval logs, VLMEvalKit).

Every problem is an :class:`~mimicgen.errors.InputError` naming the file and line/row, so a
user can fix the input; ids that do not belong to the benchmark and duplicated ids are collected
in :class:`Predictions` for the report's coverage section (``strict_ids`` makes them errors).
"""

from __future__ import annotations

import csv
import sys
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from mimicgen.bench.jsonl import decode_lines, plain_lines, read_json_lines
from mimicgen.bench.reader import read_benchmark_bytes, read_manifest, records_file
from mimicgen.errors import InputError
from mimicgen.gc_pause import gc_paused
from mimicgen.registry import get_task, task_defs
from mimicgen.scoring.check import context_from_record, record_classes
from mimicgen.scoring.extract import TASKS, QueryContext
from mimicgen.scoring.normalize import ClassVocabulary
from mimicgen.scoring.records import RecordView, decode_views, factorize, raw_codes, view_of

__all__ = [
    "Benchmark",
    "Predictions",
    "detect_format",
    "load_benchmark",
    "load_predictions",
    "require_inputs",
]

_DECODE = msgspec.json.Decoder()


_ANSWER_KEY = {t.name: t.answer_key for t in task_defs()}
_REQUIRED_KEYS = ("id", "task", "answer", "answer_text")  # in the order errors name them
_REQUIRED = frozenset(_REQUIRED_KEYS)
_EXAMPLES = 20  # how many offending ids the coverage section lists


@dataclass
class Benchmark:
    """A loaded eval set: records in file order, the manifest and its hash.

    Scoring reads ``rows`` (typed views, cheap to decode); ``records`` (the full dicts, as the
    exports, FiftyOne and plots read them) are decoded from the file's bytes on first use.
    """

    path: Path
    rows: list[RecordView]
    """Per record, the fields scoring reads (``mimicgen.scoring.records``)."""
    manifest: dict[str, Any]
    manifest_sha256: str
    index: dict[str, int] = field(default_factory=dict)
    """id (as str) -> position in ``records``."""
    source: bytes | list[dict[str, Any]] = field(default=b"", repr=False)
    """``benchmark.jsonl``'s bytes (one object per line), or the decoded record dicts."""

    @cached_property
    def records(self) -> list[dict[str, Any]]:
        """The full record dicts (SPEC §4), in file order."""
        if isinstance(self.source, list):
            return self.source
        with gc_paused(freeze=True):
            records = decode_lines(self.source)
        self.source = records  # the bytes are no longer needed
        return records

    @cached_property
    def vocabulary(self) -> ClassVocabulary:
        """Class names in answers and class counts, plus ``manifest["classes"]`` when present."""
        names: set[str] = set(self.manifest.get("classes") or [])
        for answer in self.answers[1]:  # each distinct answer once (as ``record_classes``)
            names |= record_classes({"answer": answer})
        for row in self.rows:
            for image in row.images or ():
                counts = image.class_counts
                if counts:
                    names.update(counts)
        return ClassVocabulary(names)

    @cached_property
    def ids(self) -> list[Any]:
        """Each record's ``id`` as written in the file (``index`` holds them as str)."""
        return [r.id for r in self.rows]

    @cached_property
    def task_codes(self) -> tuple[np.ndarray, list[Any]]:
        """Records' ``task`` factorised: (code per record, distinct tasks)."""
        return factorize([r.task for r in self.rows])

    @cached_property
    def tasks(self) -> np.ndarray:
        """Each record's task (numpy str array)."""
        codes, names = self.task_codes
        return np.asarray(names)[codes]

    @cached_property
    def answers(self) -> tuple[np.ndarray, list[Any]]:
        """Records' ``answer`` factorised: (code per record, distinct answers)."""
        return raw_codes([r.answer for r in self.rows])

    @cached_property
    def controls(self) -> tuple[np.ndarray, list[Any]]:
        """Records' ``controls`` factorised (None where absent): (code per record, values)."""
        return raw_codes([r.controls for r in self.rows])

    @cached_property
    def specs(self) -> tuple[np.ndarray, list[Any]]:
        """Records' ``spec`` factorised (None where absent): (code per record, values)."""
        return raw_codes([r.spec for r in self.rows])

    @cached_property
    def task_answers(self) -> tuple[np.ndarray, list[tuple[Any, Any]]]:
        """Records' (task, answer) factorised: (code per record, distinct pairs)."""
        task_codes, tasks = self.task_codes
        answer_codes, answers = self.answers
        pairs, codes = np.unique(task_codes * len(answers) + answer_codes, return_inverse=True)
        return codes.reshape(-1), [
            (tasks[p // len(answers)], answers[p % len(answers)]) for p in pairs.tolist()
        ]

    @cached_property
    def context_codes(self) -> np.ndarray:
        """Per record, the number of its context in ``distinct_contexts`` (equal task and answer:
        equal numbers)."""
        pair_codes, pairs = self.task_answers
        keys = (_context_key(task, answer) for task, answer in pairs)
        per_pair, _ = factorize(object() if k is None else k for k in keys)
        return per_pair[pair_codes]

    @cached_property
    def distinct_contexts(self) -> list[QueryContext]:
        """One extraction context per distinct context key (see ``context_codes``)."""
        vocab, (pair_codes, pairs) = self.vocabulary, self.task_answers
        _, first = np.unique(self.context_codes, return_index=True)
        return [
            context_from_record({"task": task, "answer": answer}, vocab)
            for task, answer in (pairs[p] for p in pair_codes[first].tolist())
        ]

    @cached_property
    def contexts(self) -> list[QueryContext]:
        """Extraction contexts, one per record (built once, shared by every pipeline/model).

        Records with one task and answer share one context object, so the scorer can judge
        each (context, reply) pair once.
        """
        distinct = self.distinct_contexts
        return [distinct[c] for c in self.context_codes.tolist()]


def _context_key(task: str, answer: dict[str, Any]) -> tuple[str, Any] | None:
    """What ``context_from_record`` reads, in hashable form (None: not hashable, don't share)."""
    value = answer[_ANSWER_KEY[task]]
    kind = get_task(task).kind
    if kind == "count":
        key: Any = tuple(value.items())  # question order matters: part of the key
    elif kind == "set":
        key = tuple(value)
    elif kind == "yesno":
        key = (answer.get("class"), value)  # the class asked is part of the context
    else:
        key = value
    try:
        hash(key)
    except TypeError:
        return None
    return task, key


def _check_record(path: Path, lineno: int, rec: Any) -> None:
    if not isinstance(rec, dict):
        raise InputError(
            f"{path}:{lineno}: expected a JSON object per line, got {type(rec).__name__}"
        )
    for key in _REQUIRED_KEYS:
        if key not in rec:
            raise InputError(
                f"{path}:{lineno}: benchmark record lacks '{key}'; "
                "is this a file written by `mimicgen build`?"
            )
    task = rec["task"]
    if task not in TASKS:
        raise InputError(
            f"{path}:{lineno}: unknown task {task!r}; expected one of {', '.join(TASKS)}"
        )
    answer = rec["answer"]
    if not isinstance(answer, dict) or _ANSWER_KEY[task] not in answer:
        raise InputError(
            f"{path}:{lineno}: a {task} answer needs the key '{_ANSWER_KEY[task]}', got {answer!r}"
        )


def _require_file(path: Path, missing: str) -> None:
    """One line when ``path`` is not a file (``missing``) or cannot be opened for reading."""
    if not path.is_file():
        raise InputError(missing)
    try:
        path.open("rb").close()
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None


def require_inputs(bench_dir: str | Path, pred_paths: Sequence[str | Path]) -> None:
    """Check that the benchmark's two files and every prediction file exist and can be read,
    with the one-line errors :func:`load_benchmark` and :func:`load_predictions` give. Cheap
    (the manifest is small; the records and predictions are only opened), so a command runs it
    before its other checks: a mistyped input is named as such first."""
    _require_file(records_file(bench_dir), "")
    read_manifest(bench_dir)
    for path in pred_paths:
        _require_file(Path(path), f"{path}: prediction file not found")


def load_benchmark(path: str | Path) -> Benchmark:
    """Load ``benchmark.jsonl`` + ``manifest.json`` from a benchmark directory."""
    root = Path(path)
    files = read_benchmark_bytes(root)
    jsonl, data, manifest, sha = (
        files.records_path,
        files.data,
        files.manifest,
        files.manifest_sha256,
    )
    with gc_paused(freeze=True):
        bench = _load_views(root, data, manifest, sha)
        if bench is not None:
            return bench
        records, index = _load_records(jsonl, data)
        try:
            rows = [view_of(r) for r in records]
        except (AttributeError, TypeError):
            raise InputError(
                f"{jsonl}: a record's 'images' is not a list of objects; "
                "is this a file written by `mimicgen build`?"
            ) from None
    return Benchmark(root, rows, manifest, sha, index, records)


def _load_views(root: Path, data: bytes, manifest: dict[str, Any], sha: str) -> Benchmark | None:
    """The benchmark of a well-formed file read through typed views, or None (then the dict
    path runs and words the problem, naming the line)."""
    n_lines = plain_lines(data)
    if n_lines is None:
        return None
    rows = decode_views(data)
    if rows is None or len(rows) != n_lines:
        return None
    ids = [x if type(x) is str else str(x) for x in (r.id for r in rows)]
    index = dict(zip(ids, range(len(ids)), strict=True))
    if len(index) != len(ids):  # a duplicated id
        return None
    bench = Benchmark(root, rows, manifest, sha, index, data)
    try:
        pairs = bench.task_answers[1]  # the checks of ``_check_record``, per distinct pair
    except (TypeError, msgspec.DecodeError):  # an unhashable task
        return None
    for task, answer in pairs:
        if type(task) is not str or type(answer) is not dict:
            return None
        key = _ANSWER_KEY.get(task)
        if key is None or key not in answer:
            return None
    return bench


def _load_records(jsonl: Path, data: bytes) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Record dicts and the id index; any problem is an InputError naming the line."""
    records: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for lineno, rec in read_json_lines(jsonl, data):
        # Inline fast check (one call per record is costly at 1M); _check_record words errors.
        if (
            type(rec) is not dict
            or not _REQUIRED <= rec.keys()
            or type(rec["task"]) is not str
            or type(answer := rec["answer"]) is not dict
            or _ANSWER_KEY.get(rec["task"]) not in answer
        ):
            _check_record(jsonl, lineno, rec)
        rid = str(rec["id"])
        if rid in index:
            raise InputError(
                f"{jsonl}:{lineno}: duplicate query id {rid!r}; the benchmark is corrupt"
            )
        index[rid] = len(records)
        records.append(rec)
    if not records:
        raise InputError(f"{jsonl} holds no queries")
    return records, index


@dataclass
class Predictions:
    """Predictions keyed by benchmark id, with what did not fit (for the coverage report)."""

    path: Path
    format: str
    """``jsonl`` | ``lmms-eval`` | ``vlmevalkit``."""
    by_id: dict[str, str] = field(default_factory=dict)
    unknown_ids: list[str] = field(default_factory=list)
    duplicate_ids: list[str] = field(default_factory=list)

    def coverage(self, bench: Benchmark) -> dict[str, Any]:
        """The report's coverage block, with up to 20 example ids of each problem."""
        by_id, ids = self.by_id, bench.ids
        # bench.index holds str(id) in record order: only missing records are touched.
        missing: list[Any] = []
        if len(by_id) < len(ids):  # by_id holds only benchmark ids: else none is missing
            missing = [ids[pos] for rid, pos in bench.index.items() if rid not in by_id]
        return {
            "n_queries": len(bench.rows),
            "n_predicted": len(self.by_id),
            "n_missing": len(missing),
            "n_unknown_ids": len(self.unknown_ids),
            "n_duplicates": len(self.duplicate_ids),
            "missing_examples": [str(m) for m in missing[:_EXAMPLES]],
            "unknown_id_examples": self.unknown_ids[:_EXAMPLES],
            "duplicate_id_examples": self.duplicate_ids[:_EXAMPLES],
        }


def _as_text(value: Any) -> str:
    """A reply as text: None -> "" (an empty reply), lists -> their first element."""
    while isinstance(value, list | tuple):
        value = value[0] if value else None
    return "" if value is None else str(value)


def _first_line(path: Path) -> tuple[int, bytes]:
    """(line number, bytes) of the first non-blank line, read whole however long it is (a reply
    can run to megabytes); a file with no such line is an error saying so."""
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            if line.strip():
                return lineno, line
    what = "is empty" if path.stat().st_size == 0 else "holds only blank lines"
    raise InputError(
        f"{path} {what}: no predictions to score; pass the file your model run wrote "
        '(JSONL, one {"id": ..., "prediction": ...} object per line)'
    )


def detect_format(path: Path) -> str:
    """Guess the prediction file's format from its suffix and first record."""
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".tsv", ".csv"):
        return "vlmevalkit"
    with open(path, "rb") as f:
        head = f.read(1 << 16).lstrip()
    if head.startswith(b"["):
        return "lmms-eval"  # older lmms-eval versions write one JSON list of samples
    lineno, first = _first_line(path)
    try:
        obj = _DECODE.decode(first)
    except msgspec.DecodeError as exc:
        raise InputError(
            f"{path}:{lineno}: malformed JSON line ({exc}); expected JSONL predictions, one "
            '{"id": ..., "prediction": ...} object per line'
        ) from None
    if isinstance(obj, dict) and "doc_id" in obj:
        return "lmms-eval"
    return "jsonl"


def _rows_jsonl(path: Path, data: bytes) -> Iterator[tuple[str, str]]:
    """(id, reply) per line of a plain JSONL file whose bytes are ``data``."""
    for lineno, obj in read_json_lines(path, data):
        if not isinstance(obj, dict) or "id" not in obj or "prediction" not in obj:
            raise InputError(f"{path}:{lineno}: expected an object with 'id' and 'prediction'")
        yield str(obj["id"]), _as_text(obj["prediction"])


def _lmms_sample(path: Path, where: str, obj: Any, bench: Benchmark) -> tuple[str, str]:
    if not isinstance(obj, dict) or "doc_id" not in obj:
        raise InputError(f"{path}:{where}: not an lmms-eval sample (no 'doc_id')")
    doc: dict[str, Any] = obj["doc"] if isinstance(obj.get("doc"), dict) else {}
    if "id" in doc:
        rid = str(doc["id"])
    else:
        # Without the exported doc, doc_id is the row of the exported split = benchmark order.
        pos = int(obj["doc_id"])
        rid = str(bench.ids[pos]) if 0 <= pos < len(bench.ids) else f"doc_id={pos}"
    resps = obj.get("filtered_resps", obj.get("resps"))
    return rid, _as_text(resps)


def _rows_lmms(path: Path, bench: Benchmark) -> Iterator[tuple[str, str]]:
    with open(path, "rb") as f:
        head = f.read(1 << 16).lstrip()
    if head.startswith(b"["):
        try:
            items = msgspec.json.decode(path.read_bytes())
        except msgspec.DecodeError as exc:
            raise InputError(f"{path}: malformed JSON ({exc})") from None
        for i, obj in enumerate(items):
            yield _lmms_sample(path, f"item {i}", obj, bench)
        return
    for lineno, obj in read_json_lines(path):
        yield _lmms_sample(path, str(lineno), obj, bench)


def _table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".xlsx":
        import openpyxl

        try:
            book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path}: cannot read as an Excel workbook ({exc})") from None
        rows = book.active.iter_rows(values_only=True)
        header = [str(h) for h in next(rows, ())]
        for rowno, row in enumerate(rows, 2):
            yield rowno, dict(zip(header, row, strict=False))
        return
    csv.field_size_limit(sys.maxsize)  # base64 image columns are large
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as f:
        for rowno, row in enumerate(csv.DictReader(f, delimiter=delimiter), 2):
            yield rowno, row


def _rows_vlmevalkit(path: Path, bench: Benchmark) -> Iterator[tuple[str, str]]:
    for rowno, row in _table_rows(path):
        if "prediction" not in row:
            raise InputError(
                f"{path}:{rowno}: no 'prediction' column; "
                "pass the VLMEvalKit result file (e.g. *_<dataset>.xlsx)"
            )
        if row.get("id") not in (None, ""):
            rid = str(row["id"])
        elif row.get("index") not in (None, ""):
            try:
                pos = int(row["index"])
            except ValueError:
                raise InputError(
                    f"{path}:{rowno}: index {row['index']!r} is not an integer"
                ) from None
            # mimicgen's VLMEvalKit export numbers rows 0..n-1 in benchmark order.
            rid = str(bench.ids[pos]) if 0 <= pos < len(bench.ids) else f"index={pos}"
        else:
            raise InputError(f"{path}:{rowno}: row has neither 'id' nor 'index'")
        yield rid, _as_text(row["prediction"])


class _Prediction(msgspec.Struct, gc=False):
    """One line of a plain JSONL prediction file (other keys are ignored)."""

    id: Any
    prediction: Any


_PREDICTIONS = msgspec.json.Decoder(_Prediction)


def _jsonl_fast(data: bytes, index: dict[str, int]) -> tuple[dict[str, str], list[str]] | None:
    """``by_id`` and the unknown ids of a well-formed JSONL file without repeated ids, read as
    typed lines in one call; None otherwise (the line-by-line reader then words any problem and
    keeps the first prediction of a repeated id)."""
    n_lines = plain_lines(data)
    if n_lines is None:
        return None
    try:
        objs = _PREDICTIONS.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if len(objs) != n_lines:
        return None
    ids = [x if type(x) is str else str(x) for x in (o.id for o in objs)]
    texts = [x if type(x) is str else _as_text(x) for x in (o.prediction for o in objs)]
    by_id = dict(zip(ids, texts, strict=True))
    if len(by_id) != len(ids):
        return None
    unknown = [rid for rid in ids if rid not in index]
    for rid in unknown:
        del by_id[rid]
    return by_id, unknown


_HARNESS_READERS = {"lmms-eval": _rows_lmms, "vlmevalkit": _rows_vlmevalkit}


def load_predictions(path: str | Path, bench: Benchmark, strict_ids: bool = False) -> Predictions:
    """Read predictions in any supported format; the first prediction of an id is kept."""
    path = Path(path)
    _require_file(path, f"{path}: prediction file not found")
    fmt = detect_format(path)
    preds = Predictions(path, fmt)
    by_id, index = preds.by_id, bench.index
    with gc_paused(freeze=True):
        data = path.read_bytes() if fmt == "jsonl" else None  # read once, for both readers
        fast = _jsonl_fast(data, index) if data is not None else None
        if fast is not None:
            preds.by_id, preds.unknown_ids = fast
        else:
            rows = (
                _rows_jsonl(path, data) if data is not None else _HARNESS_READERS[fmt](path, bench)
            )
            for rid, text in rows:
                if rid not in index:
                    preds.unknown_ids.append(rid)
                elif rid in by_id:
                    preds.duplicate_ids.append(rid)
                else:
                    by_id[rid] = text
    if strict_ids and (preds.unknown_ids or preds.duplicate_ids):
        bad = preds.unknown_ids[:3] or preds.duplicate_ids[:3]
        raise InputError(
            f"{path}: {len(preds.unknown_ids)} ids not in the benchmark and "
            f"{len(preds.duplicate_ids)} duplicated ids (e.g. {', '.join(bad)}); "
            "fix the file or drop --strict-ids"
        )
    return preds
