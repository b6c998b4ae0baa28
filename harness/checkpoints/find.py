"""Finding adapter checkpoints in a folder trained elsewhere, with the losses their trainer logged.

Recognised: any folder holding ``adapter_config.json`` (peft's ``save_pretrained``), the folder
itself and its subfolders up to :data:`MAX_DEPTH` levels down: TRL's / the HF Trainer's
``checkpoint-N/`` (step and losses from its ``trainer_state.json``), axolotl's output folder (the
final adapter at its top, ``checkpoint-N/`` inside), this harness's ``OUT/checkpoints``.
Every checkpoint must be over one base (``base_model_name_or_path``), loadable offline.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError

MAX_DEPTH = 3
ADAPTER_CONFIG = "adapter_config.json"
_STEP = re.compile(r"(?:checkpoint|step|ckpt)[-_]?(\d+)$", re.IGNORECASE)


@dataclass
class Found:
    """One adapter checkpoint: its folder and what its trainer recorded about it."""

    name: str
    path: Path
    base: str  # base_model_name_or_path in its adapter_config.json ("" when absent)
    step: int | None = None
    epoch: float | None = None
    train_loss: float | None = None
    loss: float | None = None  # validation loss at this step

    def sort_key(self) -> tuple:
        return (self.step is None, self.step or 0, self.name)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise HarnessError(f"{path}: cannot read it as JSON ({type(e).__name__}: {e}); is the checkpoint complete?") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object")
    return data


def _losses(folder: Path, step: int | None) -> tuple[int | None, float | None, float | None, float | None]:
    """(step, epoch, train loss, validation loss) from the folder's trainer_state.json, if any."""
    state_path = folder / "trainer_state.json"
    if not state_path.is_file():
        return step, None, None, None
    state = _read_json(state_path)
    step = int(state.get("global_step") or step or 0) or step
    epoch = state.get("epoch")
    train = val = None
    for entry in state.get("log_history") or []:
        if not isinstance(entry, dict) or (step is not None and int(entry.get("step", 0)) > step):
            continue
        if "eval_loss" in entry:
            val = float(entry["eval_loss"])
        elif "loss" in entry:
            train = float(entry["loss"])
    return step, None if epoch is None else float(epoch), train, val


def _adapter_folders(root: Path) -> list[Path]:
    out = []
    level = [root]
    for _ in range(MAX_DEPTH + 1):
        nxt = []
        for d in level:
            if (d / ADAPTER_CONFIG).is_file():
                out.append(d)
            try:
                nxt += sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
        level = nxt
    return out


def find_checkpoints(root: Path) -> list[Found]:
    """Every adapter checkpoint under ``root``, by step (unnumbered ones last); HarnessError when none."""
    root = Path(root)
    if not root.is_dir():
        raise HarnessError(f"{root}: no such folder; give a folder of adapter checkpoints (e.g. a Trainer's output_dir)")
    found = []
    for folder in _adapter_folders(root):
        cfg = _read_json(folder / ADAPTER_CONFIG)
        m = _STEP.search(folder.name)
        step, epoch, train, val = _losses(folder, int(m.group(1)) if m else None)
        name = str(folder.relative_to(root)) if folder != root else (folder.name or str(folder))
        found.append(Found(name, folder.resolve(), str(cfg.get("base_model_name_or_path") or ""), step, epoch, train, val))
    if not found:
        raise HarnessError(f"{root}: no adapter checkpoints in it (looked for {ADAPTER_CONFIG} in the folder and its "
                           f"subfolders, {MAX_DEPTH} levels down, e.g. TRL's checkpoint-N/); give a folder written by "
                           "peft's save_pretrained or a Trainer's output_dir")
    return sorted(found, key=Found.sort_key)


def one_base(root: Path, found: list[Found], base: str | None) -> str:
    """The one base every checkpoint is over (``base`` when given: --base); HarnessError naming the
    groups when they name different bases, or the checkpoint whose base is not named."""
    groups: dict[str, list[Found]] = {}
    for f in found:
        groups.setdefault(f.base, []).append(f)
    if len(groups) > 1:
        lines = "; ".join(f"{b or '(none named)'}: {', '.join(x.name for x in fs)}" for b, fs in groups.items())
        raise HarnessError(f"{root}: the adapters are over different bases ({lines}); evaluate one group at a time "
                           "(point at a subfolder); checkpoints compared on one loaded base must share it")
    if base:
        return base
    named = next(iter(groups))
    if not named:
        raise HarnessError(f"{found[0].path / ADAPTER_CONFIG}: base_model_name_or_path is empty; give --base MODEL "
                           "(smollm2 or a local model folder)")
    return named


def check_base(root: Path, found: list[Found], base: str, given: bool) -> str:
    """``base`` as a local model name that loads offline (smollm2, a folder, a hub id in the cache);
    HarnessError naming the adapter config that named it (or --base) otherwise."""
    from harness.local import models as lm

    try:
        lm.resolve_local_model(base)
    except HarnessError as e:
        where = "--base" if given else f"{found[0].path / ADAPTER_CONFIG}: base_model_name_or_path"
        raise HarnessError(f"{where} {base!r}: {e}; the base must load offline: give --base MODEL (smollm2 or a "
                           "local model folder)") from None
    return base
