"""``mimicgen finetune`` on a tiny random Qwen2-VL and the demo training set (CPU).

One uninterrupted 24-step run is the reference: a run stopped at step 12 and resumed must give
exactly its losses and weights, a checkpoint reloaded from disk must reproduce the loss the run
logged for the next step, and the merged model must give the adapter's logits.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from typer.testing import CliRunner

from mimicgen.cli import app
from mimicgen.errors import MimicgenError

runner = CliRunner()
STEPS = 24
ARGS = ["--mask", "blockdiag@2-3", "--lr", "1e-2", "--batch-size", "2", "--save-every", "12"]
ARGS += ["--log-every", "0"]


@pytest.fixture(scope="module")
def demo_train(tmp_path_factory) -> Path:
    """The demo suite built as a LLaVA training set (150 conversations over synthetic scenes)."""
    out = tmp_path_factory.mktemp("demo_train") / "train"
    res = runner.invoke(app, ["build", "task_specs/demo", "--format", "llava", "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


@pytest.fixture(scope="module")
def model(tiny_models) -> Path:
    return tiny_models["qwen2_vl"]


def _finetune(data, model, out, *extra):
    return runner.invoke(
        app, ["finetune", str(data), "--model", str(model), "--out", str(out), *ARGS, *extra]
    )


def _log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(folder / "adapter_model.safetensors"))


@pytest.fixture(scope="module")
def full_run(demo_train, model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ft") / "full"
    res = _finetune(demo_train, model, out, "--steps", str(STEPS))
    assert res.exit_code == 0, res.output
    assert f"steps 1-{STEPS} of {STEPS} done" in res.stdout
    return out


@pytest.mark.slow
def test_loss_falls_and_log_rows(full_run):
    rows = _log(full_run)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    losses = [r["loss"] for r in rows]
    first, last = sum(losses[:6]) / 6, sum(losses[-6:]) / 6
    assert last < first - 0.3, losses
    assert all(r["tokens"] > r["label_tokens"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    manifest = json.loads((full_run / "finetune.json").read_text())
    assert manifest["status"] == "done" and manifest["step"] == STEPS
    assert manifest["model_info"]["mask_layers"] == [2, 3]
    assert manifest["runs"][0]["backend"] == "eager"  # CPU: no FlexAttention backward
    assert sorted(p.name for p in (full_run / "checkpoints").iterdir()) == [
        "step-000012",
        "step-000024",
    ]


@pytest.mark.slow
def test_stop_and_resume_continue_the_same_run(full_run, demo_train, model, tmp_path):
    out = tmp_path / "stopped"
    res = _finetune(demo_train, model, out, "--steps", str(STEPS), "--stop-after", "12")
    assert res.exit_code == 0, res.output
    assert "steps 1-12 of 24 stopped" in res.stdout
    full = _log(full_run)
    # Same seed, same settings: the same losses, bit for bit.
    assert [r["loss"] for r in _log(out)] == [r["loss"] for r in full[:12]]
    assert json.loads((out / "finetune.json").read_text())["status"] == "stopped"
    assert not (out / "adapter").exists()
    # A row logged after the last checkpoint (a run killed at step 13) is dropped on resume.
    with (out / "log.jsonl").open("a") as f:
        f.write(json.dumps({**full[12], "loss": 99.0}) + "\n")
    res = _finetune(demo_train, model, out, "--steps", str(STEPS), "--resume")
    assert res.exit_code == 0, res.output
    assert "steps 13-24 of 24 done" in res.stdout
    assert [r["loss"] for r in _log(out)] == [r["loss"] for r in full]
    a, b = _weights(out / "adapter"), _weights(full_run / "adapter")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    runs = json.loads((out / "finetune.json").read_text())["runs"]
    assert [(r["from_step"], r["to_step"]) for r in runs] == [(0, 12), (12, 24)]
    # Killed while writing the final folders: a resume writes them from the last checkpoint.
    shutil.rmtree(out / "adapter")
    again = _finetune(demo_train, model, out, "--steps", str(STEPS), "--resume")
    assert again.exit_code == 0 and "already trained (24/24 steps)" in again.stdout
    a = _weights(out / "adapter")
    assert all(torch.equal(a[k], b[k]) for k in b)


@pytest.mark.slow
def test_checkpoint_reloads_to_the_logged_loss_and_merged_logits(full_run, demo_train, model):
    """Step 13's loss recomputed from the step-12 checkpoint on disk (weights and generator
    state) equals the loss the run logged; the merged model gives the adapter's logits."""
    from mimicgen.train.data import collate, encode_conversation, load_conversations
    from mimicgen.train.loop import batch_indices
    from mimicgen.train.lora import load_finetuned
    from mimicgen.train.model import MaskPlan, forward, load_for_training
    from mimicgen.train.settings import FinetuneSettings

    settings = FinetuneSettings(**json.loads((full_run / "finetune.json").read_text())["settings"])
    convs = load_conversations(demo_train)
    ck = full_run / "checkpoints" / "step-000012"
    tuned = load_finetuned(str(model), ck / "adapter")
    [idx] = batch_indices(settings, len(convs), 13)
    batch = collate(tuned, [encode_conversation(tuned, convs[i]) for i in idx])
    plan = MaskPlan("blockdiag", frozenset({2, 3}))
    tuned.model.train()  # LoRA dropout on, drawn from the restored generator
    torch.set_rng_state(torch.load(ck / "rng.pt", weights_only=True)["cpu"])
    with torch.no_grad():
        loss = forward(tuned, batch, plan).loss
    assert float(loss) == pytest.approx(_log(full_run)[12]["loss"], rel=1e-6, abs=1e-6)

    final = load_finetuned(str(model), full_run / "adapter")
    merged = load_for_training(str(full_run / "model"))
    base = load_for_training(str(model))

    def logits(adapter):
        with torch.no_grad():
            last = forward(adapter, batch, plan, hidden_states=True).hidden_states[-1]
            return adapter.model.lm_head(adapter.language_model.norm(last))

    torch.testing.assert_close(logits(final), logits(merged), rtol=1e-5, atol=1e-5)
    assert (logits(final) - logits(base)).abs().max() > 1e-3  # the adapter changed the model


@pytest.mark.slow
def test_other_seed_other_losses_and_mixture_yaml(full_run, demo_train, model, tmp_path):
    full = [r["loss"] for r in _log(full_run)]
    res = _finetune(demo_train / "mixture.yaml", model, tmp_path / "mix", "--steps", "3")
    assert res.exit_code == 0, res.output
    # The mixture YAML names llava.json with 'all': the same conversations, the same losses
    # for the first steps (a 3-step run's schedule differs only from its step 2 on).
    assert _log(tmp_path / "mix")[0]["loss"] == full[0]
    res = _finetune(demo_train, model, tmp_path / "seed", "--steps", "3", "--seed", "1")
    assert res.exit_code == 0, res.output
    assert _log(tmp_path / "seed")[0]["loss"] != full[0]


@pytest.mark.slow
def test_gradient_checkpointing_keeps_the_masks(full_run, demo_train, model, tmp_path):
    """Recomputed activations run under the same masks: the same losses with checkpointing
    (steps 2-3 depend on the gradients of steps 1-2)."""
    out = tmp_path / "gc"
    args = ["--steps", str(STEPS), "--stop-after", "3", "--gradient-checkpointing"]
    res = _finetune(demo_train, model, out, *args)
    assert res.exit_code == 0, res.output
    got = [r["loss"] for r in _log(out)]
    want = [r["loss"] for r in _log(full_run)[:3]]
    assert got == pytest.approx(want, rel=1e-5, abs=1e-6)


def _error(res) -> str:
    assert res.exit_code != 0
    assert isinstance(res.exception, MimicgenError), res.output
    message = str(res.exception)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mask", "blockdiag@x"], "--mask 'blockdiag@x': bad layer list"),
        (["--mask", "diagonal@1-2"], "--mask 'diagonal@1-2': use KIND@LAYERS"),
        (["--steps", "0"], "--steps 0"),
        (["--schedule", "linear"], "--schedule 'linear'"),
        (["--lora-dropout", "1.5"], "--lora-dropout 1.5"),
        (["--resume", "--overwrite"], "exclude each other"),
    ],
)
def test_bad_options_are_one_line_errors(demo_train, tmp_path, args, needle):
    res = runner.invoke(
        app, ["finetune", str(demo_train), "--model", "m", "--out", str(tmp_path / "o"), *args]
    )
    assert needle in _error(res)
    assert not (tmp_path / "o").exists()


def test_bad_inputs_are_one_line_errors_and_write_nothing(demo_train, model, tmp_path):
    out = tmp_path / "o"
    cases = [
        (["--mask", "blockdiag@2-9"], demo_train, "mask layers [4, 5, 6, 7, 8, 9] out of range"),
        (["--attention", "flex"], demo_train, "--attention flex trains on CUDA only"),
        (["--lora-targets", "qkv_proj"], demo_train, "--lora-targets qkv_proj"),
        ([], tmp_path / "missing", "does not exist"),
        (["--resume"], demo_train, "holds no finetune.json"),
    ]
    for args, data, needle in cases:
        res = runner.invoke(
            app, ["finetune", str(data), "--model", str(model), "--out", str(out), *args]
        )
        assert needle in _error(res), args
        assert not out.exists(), args
    res = _finetune(demo_train, tmp_path / "no_model", out)
    assert "cannot load a model config" in _error(res)
    # --out inside an input is refused before anything is written.
    res = _finetune(demo_train, model, demo_train / "ft")
    assert "--out" in _error(res) and not (demo_train / "ft").exists()


def test_existing_out_needs_resume_or_overwrite_and_same_settings(full_run, demo_train, model):
    res = _finetune(demo_train, model, full_run, "--steps", str(STEPS))
    assert "pass --resume to continue its run or --overwrite" in _error(res)
    res = _finetune(demo_train, model, full_run, "--steps", str(STEPS), "--lr", "1e-3", "--resume")
    assert "other settings (lr)" in _error(res)


def test_batch_order_and_learning_rate_schedule():
    from mimicgen.train.loop import batch_indices, learning_rate, total_steps
    from mimicgen.train.settings import FinetuneSettings

    s = FinetuneSettings(model="m", data="d", batch_size=3, grad_accum=2, warmup_ratio=0.1)
    n = 10
    steps = [batch_indices(s, n, k) for k in range(1, 11)]  # 60 draws = 6 epochs
    flat = [i for step in steps for micro in step for i in micro]
    assert all(len(step) == 2 and all(len(m) == 3 for m in step) for step in steps)
    for e in range(6):  # every epoch is a permutation of the data, each epoch its own
        assert sorted(flat[e * n : (e + 1) * n]) == list(range(n))
    assert flat[:n] != flat[n : 2 * n]
    assert batch_indices(s, n, 4) == steps[3]  # a function of the step alone (resume)
    assert total_steps(s, 10) == 2 and total_steps(s.model_copy(update={"epochs": 1.3}), 10) == 3
    # total 20, warmup ceil(2.0) = 2 steps: 0, lr/2, then cosine over the remaining 18.
    lrs = [learning_rate(s, k, 20) for k in range(1, 21)]
    assert lrs[:3] == [0.0, 1e-4, 2e-4]
    assert lrs[11] == pytest.approx(1e-4)  # step 12: 9 of 18 cosine steps, half the peak
    assert lrs[14] == pytest.approx(2e-4 * 0.5 * (1 + math.cos(math.pi * 12 / 18)))
    flat_lr = s.model_copy(update={"schedule": "constant"})
    assert learning_rate(flat_lr, 20, 20) == 2e-4


@pytest.mark.slow
def test_accumulated_and_packed_steps_equal_one_padded_batch(demo_train, model, tmp_path):
    """A step's loss is the mean over all its answer tokens: 2 micro-batches of 1 and one
    packed row of 2 train exactly like one padded batch of 2 (no dropout, so the draws of the
    different tensor shapes do not matter)."""
    common = ["--steps", str(STEPS), "--stop-after", "3", "--lora-dropout", "0"]
    runs = {
        "padded": [],
        "accum": ["--batch-size", "1", "--grad-accum", "2"],
        "packed": ["--pack"],
    }
    losses = {}
    for name, extra in runs.items():
        res = _finetune(demo_train, model, tmp_path / name, *common, *extra)
        assert res.exit_code == 0, res.output
        losses[name] = [r["loss"] for r in _log(tmp_path / name)]
    # The same conversations per step (--batch-size 1 after ARGS' 2: the later flag wins), and
    # throughput counts real tokens only, not the padding of the padded batch.
    rows = {name: _log(tmp_path / name) for name in runs}
    for key in ("tokens", "label_tokens"):
        assert [r[key] for r in rows["accum"]] == [r[key] for r in rows["padded"]]
        assert [r[key] for r in rows["packed"]] == [r[key] for r in rows["padded"]]
    for name in ("accum", "packed"):
        assert losses[name] == pytest.approx(losses["padded"], rel=1e-5, abs=1e-6), name


def test_lora_targets_only_the_decoder_of_a_real_size_model():
    """random:llava-ov-0.5b (the published shapes, built on the meta device): LoRA rank 8 on
    the 7 projections of the 24 Qwen2 decoder layers, none on the SigLIP tower (which has
    q_proj/k_proj/v_proj too). Per layer r * (in + out): q, o 896+896; k, v 896+128; gate, up
    896+4864; down 4864+896."""
    from mimicgen.train.attention import TRAIN_ATTN
    from mimicgen.train.lora import apply_lora, trainable
    from mimicgen.train.model import load_for_training
    from mimicgen.train.settings import FinetuneSettings

    adapter = load_for_training("random:llava-ov-0.5b", device="meta")
    assert adapter.num_layers == 24
    assert adapter.model.config.text_config._attn_implementation == TRAIN_ATTN
    peft_model = apply_lora(adapter, FinetuneSettings(model="random:llava-ov-0.5b", data="d"))
    per_layer = 8 * (2 * 1792 + 2 * 1024 + 3 * 5760)
    assert sum(p.numel() for p in trainable(peft_model)) == 24 * per_layer == 4_399_104
    names = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert all(".language_model.layers." in n for n in names)
