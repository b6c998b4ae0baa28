"""Migrating off a retiring model. Recordings: a model's answers with their provenance, kept to replay as a reference.

format (the folder on disk) <- recorder (`harness record`) <- inputs (unlabelled prompts);
retiring (shutdown dates); distill (recordings as training data). The agreement metrics that score
a candidate against a recording live with the other metrics, in harness/metrics/agreement.py.
"""
