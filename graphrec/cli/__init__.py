"""The ``graphrec`` command line (typer). Only the CLI reads the environment."""
