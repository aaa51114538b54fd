"""Rebuild README.md from its parts: the header below plus one section per docs/readme/*.md.

Each command's section lives next to the docs it summarises, so the engineer who changes a
command edits one small file; run this script afterwards (it is also checked by a test).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ROOT / "docs" / "readme"
#: Section order: the pipeline from annotations to plots.
ORDER = [
    "synth",
    "index",
    "tasks",
    "build",
    "training",
    "predict",
    "score",
    "twins",
    "probes",
    "finetune",
    "plots",
    "fiftyone",
]

HEADER = """# mimicgen

Controlled multi-image benchmarks and training data for vision-language models, built from
single-image box annotations (MS-COCO, OpenImages, or built-in synthetic scenes); a scorer you can
trust; and diagnostic probes that show why models fail when given many images. It follows the MIMIC
study ("More Images, More Problems? A Controlled Analysis of VLM Failure Modes") and turns its
released data into a generator.

## Quick start

On a fresh machine with only Python 3.11+ installed:

```bash
make demo   # create .venv, install, build a benchmark from the built-in synthetic source
make test   # create .venv, install every extra, run the test suite
```

`make test-fast` skips the tests marked `slow` (FiftyOne, headless Chromium, tiny-model forward
passes, a live server; the list is in `tests/conftest.py`).

`make demo` prints the folder it wrote (`demo_out/`) and the suite's Table 1 statistics. After it,
the `mimicgen` command is `.venv/bin/mimicgen` (or activate the environment with
`source .venv/bin/activate`); the examples below assume it is on your `PATH` and are run from the
repository root.

Optional extras: `probes` (torch 2.13.0 CPU + transformers), `plots` (matplotlib), `fiftyone`
(FiftyOne; see `scripts/setup_fiftyone.sh` for an offline database), `dev` (test tools).

How the pieces fit: [docs/architecture.md](docs/architecture.md).
"""

FOOTER = """## Documentation

| topic | file |
|---|---|
| sources, presence rules, index and cache | [docs/sources.md](docs/sources.md) |
| the synthetic renderer | [docs/synthetic.md](docs/synthetic.md) |
| task definitions, controls, invariants | [docs/tasks.md](docs/tasks.md) |
| eval-set files (`benchmark.jsonl`, `manifest.json`) | [docs/outputs.md](docs/outputs.md) |
| training sets, masked fine-tuning | [docs/training.md](docs/training.md) |
| predictions (hf, OpenAI-compatible, vLLM) | [docs/predict.md](docs/predict.md) |
| scoring rules | [docs/scoring.md](docs/scoring.md) |
| harness exports | [docs/exports.md](docs/exports.md) |
| probes and the FLOPs model | [docs/probes.md](docs/probes.md) |
| plots and the HTML report | [docs/plots.md](docs/plots.md) |
| FiftyOne | [docs/fiftyone.md](docs/fiftyone.md) |

## Benchmarks

Speed and memory targets (SPEC §8) are measured by scripts that print their numbers, not by
timed tests: `scripts/bench_index.py` (index build vs parse-only, cached load, peak RSS),
`scripts/bench_build.py` and `scripts/bench_sampling.py` (Table 1 suite from a cached index),
`scripts/bench_training.py` (200K training conversations), `scripts/bench_masked_attention.py`
(one attention layer, dense vs block-sparse), `scripts/bench_finetune.py` (fine-tuning tokens/s
and memory with and without the mask, GPU), `scripts/bench_score.py` (1M
predictions), `scripts/bench_synth.py` (1,000 synthetic images). Run them with
`.venv/bin/python scripts/NAME.py`; they generate their data under `/tmp/mimicgen-bench`.
"""


def render() -> str:
    sections = []
    for name in ORDER:
        text = (PARTS / f"{name}.md").read_text(encoding="utf-8").strip()
        lines = text.splitlines()
        # Every part starts with its own heading; make them all second-level.
        lines[0] = "## " + lines[0].lstrip("#").strip()
        sections.append("\n".join(lines))
    return "\n\n".join([HEADER.strip(), *sections, FOOTER.strip()]) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        current = (ROOT / "README.md").read_text(encoding="utf-8")
        if current != text:
            print("README.md is out of date: run python scripts/assemble_readme.py")
            return 1
        return 0
    (ROOT / "README.md").write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
