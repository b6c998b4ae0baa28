"""Loading local models (generators, embedders) offline from installed packages or folders."""
