"""Importers: other tools' evaluations turned into harness suites (``harness import``).

Each importer reads its format into an :class:`~harness.importers.common.Imported` (a suite as a
dict, its dataset rows, and one located note per thing it could not convert); ``write`` puts the
suite YAML and dataset on disk. Nothing is silently dropped: what cannot be converted is a note.
"""
