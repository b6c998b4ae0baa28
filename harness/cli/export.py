"""harness export ADAPTER --merged DIR [--base MODEL]"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="merge a LoRA adapter into its base: a folder vLLM and transformers load",
                       description="Merge a trained LoRA adapter into its base model and write a plain transformers "
                                   "folder: safetensors weights, config, tokenizer and chat template. Serve it with "
                                   "`vllm serve DIR --served-model-name NAME` and evaluate it with `harness run SUITE "
                                   "--model 'openai:NAME?base_url=http://127.0.0.1:8000/v1'`, or in-process as local:DIR.")
    p.add_argument("adapter", type=Path, help="adapter folder a training run wrote (OUT/adapter)")
    p.add_argument("--merged", type=Path, required=True, metavar="DIR", help="folder to write the merged model to")
    p.add_argument("--base", metavar="MODEL",
                   help="base model (default: the adapter's base_model_name_or_path, e.g. smollm2 or a folder)")
    p.add_argument("--force", action="store_true", help="write into a non-empty folder")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from harness.train.export import export_merged

    res = export_merged(args.adapter, args.merged, base=args.base, overwrite=args.force)
    print(f"merged {res.adapter} into {res.base}: {res.out_dir} ({', '.join(res.files)})")
    name = res.out_dir.resolve().name
    print(f"serve it:    vllm serve {res.out_dir} --served-model-name {name}")
    print(f"evaluate it: harness run SUITE --model 'openai:{name}?base_url=http://127.0.0.1:8000/v1'  "
          f"(or in-process: --model local:{res.out_dir})")
    return 0
