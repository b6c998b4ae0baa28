"""The types every layer of the harness shares, at the bottom of the import graph.

Nothing in ``harness.core`` imports anything else of the harness; every other package may
import from it. A type that two packages both need lives here, so that neither has to import
the other (an import cycle is a type in the wrong place; tests/test_architecture.py checks).

    errors    HarnessError and its exit codes, located Problems
    registry  the generic Registry behind every extension point
    hashing   sha256 of files and folders, canonical JSON
    settings  GenerationSettings (decoding settings, part of every cache key)
    types     Example, Request, Response, Item, Failure, RunContext
    text      word tokens, n-grams, fenced JSON
    io        atomic writes (temp file + rename): a failed write never damages an earlier file
    csvsafe   CSV cells neutralised against formula injection
    redact    secrets (URL userinfo) stripped from what is stored or printed
"""
