"""Glue for retention_ifeval: lm-eval's own IFEval result functions, imported, not copied."""
from lm_eval.tasks.ifeval.utils import agg_inst_level_acc, process_results

__all__ = ["agg_inst_level_acc", "process_results"]
