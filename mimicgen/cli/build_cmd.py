"""CLI commands (registered on mimicgen.cli.app)."""
