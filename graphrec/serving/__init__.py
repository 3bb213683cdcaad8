"""Serving: run directories, the :class:`Recommender` library API, and differentially private
export of user embeddings."""

from graphrec.serving.recommender import Recommender
from graphrec.serving.run_dir import load_run_files, write_run

__all__ = ["Recommender", "load_run_files", "write_run"]
