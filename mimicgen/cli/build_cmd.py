"""``mimicgen build`` and ``merge``: write eval and training sets, join shard builds."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mimicgen.build.eval_set import BuildOptions, build_eval_set, merge_shards
from mimicgen.build.images import ImageMode, parse_image_mode
from mimicgen.build.stats import twins_line
from mimicgen.cli.app import app
from mimicgen.cli.common import console, stats_table
from mimicgen.cli.shard import parse_shard
from mimicgen.cli.signals import Terminated
from mimicgen.cli.source_options import (
    SOURCE_HELP,
    ClassesCsvOpt,
    HierarchyOpt,
    ImageRootOpt,
    LabelsCsvOpt,
    spec_from_options,
)
from mimicgen.errors import InputError, first_problem
from mimicgen.sources.spec import SourceSpec
from mimicgen.specs.training import TrainingOptions

__all__ = ["apply_overrides", "build", "merge", "resolve_spec_paths"]

#: ``--smoke`` caps every spec at this many queries so a whole suite runs in seconds.
SMOKE_QUERIES = 5
#: Output folder of a bare ``mimicgen build`` (the demo).
DEMO_OUT = Path("demo_out")
_SPEC_SUFFIXES = (".yaml", ".yml")
#: Help panels: options that mean something for one kind of build only.
TRAIN_PANEL = "Training sets (--format or split: train)"
EVAL_PANEL = "Eval sets (no --format, split: eval)"
#: TrainingOptions defaults, shown in the help of the options that leave them unset (None).
_TRAINING_DEFAULTS = {name: field.default for name, field in TrainingOptions.model_fields.items()}
#: Command-line spelling of the training-only options, for the eval-build error.
_TRAINING_FLAGS = {
    "exclude": "--exclude",
    "placeholder_style": "--placeholders",
    "option_ratio": "--option-ratio",
    "extra_turns": "--extra-turns",
}


def resolve_spec_paths(args: Sequence[str]) -> list[Path]:
    """Spec arguments -> files or folders for :func:`mimicgen.specs.load_suite`.

    An argument is a spec file, a folder of specs, or a shipped name: a path under
    ``shipped_specs_dir()`` without the suffix, as ``mimicgen ls`` prints it (``coco_eval``,
    ``demo/common``).
    """
    from mimicgen.specs import shipped_specs_dir

    shipped = Path(shipped_specs_dir())
    paths: list[Path] = []
    for arg in args:
        candidates = [Path(arg), shipped / arg] + [shipped / f"{arg}{s}" for s in _SPEC_SUFFIXES]
        hit = next((c for c in candidates if c.exists()), None)
        if hit is None:
            raise InputError(
                f"spec {arg!r} is neither a file nor a shipped spec; run 'mimicgen ls'"
            )
        paths.append(hit)
    return paths


def apply_overrides(
    specs: Sequence[Any],
    *,
    source: SourceSpec | None = None,
    seed: int | None = None,
    smoke: bool = False,
) -> list[Any]:
    """Copies of the specs with ``--source``/``--seed``/``--smoke`` applied and re-validated."""
    from mimicgen.specs import with_overrides

    out = []
    for spec in specs:
        update: dict[str, Any] = {}
        if source is not None:
            update["source"] = source.model_dump(mode="json", exclude_none=True)
        if seed is not None:
            update["seed"] = seed
        if smoke:
            update["num_queries"] = min(int(spec.num_queries), SMOKE_QUERIES)
        out.append(with_overrides(spec, update) if update else spec)
    return out


def _source_override(source: str | None, *side: Path | None) -> SourceSpec | None:
    """``--source`` plus side-file options as one SourceSpec; side files need ``--source``."""
    if source is None:
        if any(p is not None for p in side):
            raise InputError("--image-root/--classes-csv/--hierarchy/--labels-csv need --source")
        return None
    return spec_from_options(source, *side)


@app.command("build")
def build(
    specs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Spec YAML files, folders, or shipped names (mimicgen ls). "
            "Default: the demo suite on the synthetic source."
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Override every spec's source. " + SOURCE_HELP)
    ] = None,
    image_root: ImageRootOpt = None,
    classes_csv: ClassesCsvOpt = None,
    hierarchy: HierarchyOpt = None,
    labels_csv: LabelsCsvOpt = None,
    seed: Annotated[int | None, typer.Option(help="Override every spec's seed.")] = None,
    smoke: Annotated[
        bool,
        typer.Option(
            "--smoke", help=f"Cap every spec at {SMOKE_QUERIES} queries (quick end-to-end run)."
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out folder.")
    ] = False,
    images: Annotated[
        str, typer.Option(help="copy | hardlink | symlink | resize:MAXPX | none")
    ] = "copy",
    no_images: Annotated[bool, typer.Option("--no-images", help="Same as --images none.")] = False,
    cache_dir: Annotated[
        Path | None, typer.Option(help="Index/render cache (default ~/.cache/mimicgen).")
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Build block i of n (i/n); join with 'mimicgen merge'.", rich_help_panel=EVAL_PANEL
        ),
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Write a training set instead of an eval set: llava | llava_jsonl | mantis "
            "(repeatable). Specs with split: train imply llava + llava_jsonl.",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = None,
    exclude: Annotated[
        list[Path] | None,
        typer.Option(
            help="Eval set folder whose images must not be used (repeatable).",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = None,
    placeholders: Annotated[
        str | None,
        typer.Option(
            help="<image> layout: start | lines | interleaved. "
            f"Default: {_TRAINING_DEFAULTS['placeholder_style']}.",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = None,
    option_ratio: Annotated[
        float | None,
        typer.Option(
            help="Share of turns asked as multiple choice. "
            f"Default: {_TRAINING_DEFAULTS['option_ratio']}.",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = None,
    extra_turns: Annotated[
        int | None,
        typer.Option(
            help="Further questions per conversation. "
            f"Default: {_TRAINING_DEFAULTS['extra_turns']}.",
            rich_help_panel=TRAIN_PANEL,
        ),
    ] = None,
) -> None:
    """Sample task specs into an eval set (benchmark.jsonl, manifest.json, images/) or, with
    --format or training specs, a training set (LLaVA-OneVision / Mantis conversations).
    Options under "Training sets" apply to training builds only, "Eval sets" to eval builds."""
    from mimicgen.index import load_index
    from mimicgen.specs import load_suite, spec_input_files

    if specs:
        paths = resolve_spec_paths(specs)
    else:  # the demo: shipped demo suite, synthetic source, ./demo_out
        from mimicgen.specs import shipped_specs_dir

        paths = [Path(shipped_specs_dir()) / "demo"]
        out = out or DEMO_OUT
    if out is None:
        raise InputError("pass --out DIR for the eval set")
    mode: ImageMode = parse_image_mode("none" if no_images else images)
    # What --out must not be, hold or lie inside, besides the sources: the spec files as given
    # and every file they include.
    inputs = [*paths, *spec_input_files(paths)]
    resolved = apply_overrides(
        load_suite(paths),
        source=_source_override(source, image_root, classes_csv, hierarchy, labels_csv),
        seed=seed,
        smoke=smoke,
    )
    training = {
        "exclude": exclude,
        "placeholder_style": placeholders,
        "option_ratio": option_ratio,
        "extra_turns": extra_turns,
    }
    if formats or all(getattr(s, "split", "eval") == "train" for s in resolved):
        _build_training(
            resolved,
            out,
            mode,
            overwrite,
            seed,
            cache_dir,
            shard,
            formats or ["llava", "llava_jsonl"],
            exclude or [],
            {k: v for k, v in training.items() if k != "exclude" and v is not None},
            inputs,
        )
        return
    given = [_TRAINING_FLAGS[k] for k, v in training.items() if v is not None]
    if given:
        raise InputError(
            f"{given[0]} applies to training sets only; add --format llava (or build specs with "
            "split: train) for one"
        )
    options = BuildOptions(
        out=out,
        image_mode=mode,
        overwrite=overwrite,
        shard=parse_shard(shard),
        seed_override=seed,
        inputs=tuple(inputs),
    )
    try:
        result = build_eval_set(
            resolved, options, index_loader=lambda s, r: load_index(s, r, cache_dir=cache_dir)
        )
    except (KeyboardInterrupt, Terminated):
        print("finished chunks are kept; rerun the same command to resume", file=sys.stderr)
        raise
    out_console = console()
    out_console.print(f"wrote {result.num_queries} queries to {result.out}")
    out_console.print(stats_table(result.manifest, "eval set (Table 1 statistics)"))
    if (twins := result.manifest.get("twins")) is not None:
        out_console.print(twins_line(twins))


def _build_training(
    specs: list[Any],
    out: Path,
    mode: ImageMode,
    overwrite: bool,
    seed: int | None,
    cache_dir: Path | None,
    shard: str | None,
    formats: list[str],
    exclude: list[Path],
    given: dict[str, Any],
    spec_paths: list[Path],
) -> None:
    """A training set; ``given`` holds the TrainingOptions fields set on the command line (the
    others keep the model's defaults)."""
    from pydantic import ValidationError

    from mimicgen.build.training import build_training_set
    from mimicgen.index import load_index

    if shard is not None:
        raise InputError("--shard applies to eval sets only; build training sets whole")
    twins = [s.name for s in specs if getattr(s, "variants", None) is not None]
    if twins:
        raise InputError(
            f"spec(s) {', '.join(twins)} set variants (paired eval twins); training sets have "
            "none: build them as an eval set (no --format) or remove variants"
        )
    try:
        options = TrainingOptions(
            formats=tuple(dict.fromkeys(formats)),  # type: ignore[arg-type]
            **given,
        )
    except ValidationError as exc:
        key, msg, _ = first_problem(exc)
        raise InputError(
            f"training option {key}: {msg} "
            "(formats: llava, llava_jsonl, mantis; placeholders: start, lines, interleaved)"
        ) from None
    manifest = build_training_set(
        specs,
        out,
        options,
        exclude=exclude,
        image_mode=mode,
        overwrite=overwrite,
        seed_override=seed,
        index_loader=lambda s, r: load_index(s, r, cache_dir=cache_dir),
        inputs=spec_paths,
    )
    out_console = console()
    out_console.print(f"wrote {manifest['num_queries']} conversations to {out}")
    table = Table(title="training set (Table 9 statistics)")
    for col in ("task", "queries", "images min-med-max", "words/q", "turns", "options"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, st in manifest["stats"].items():
        table.add_row(
            task,
            str(st["queries"]),
            f"{st['images_min']}-{st['images_median']}-{st['images_max']}",
            str(st["words_per_question"]),
            str(st["turns_per_conversation"]),
            str(st["option_share"]),
        )
    out_console.print(table)


@app.command("merge")
def merge(
    out: Annotated[Path, typer.Argument(help="Output folder of the joined eval set.")],
    shards: Annotated[list[Path], typer.Argument(help="Folders written by build --shard i/n.")],
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
) -> None:
    """Join shard builds into the eval set an unsharded build writes (byte-identical)."""
    result = merge_shards(out, shards, overwrite=overwrite)
    print(f"wrote {result.num_queries} queries to {result.out}")
