"""``python -m graphrec`` runs the ``graphrec`` command."""

from graphrec.cli.main import app

app()
