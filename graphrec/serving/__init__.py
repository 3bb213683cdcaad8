"""Serving: run directories, the :class:`Recommender` library API, and differentially private
export of user embeddings."""

from graphrec.serving.recommender import Recommender, UnknownAttributeWarning
from graphrec.serving.run_dir import load_run_files, write_run

__all__ = ["Recommender", "UnknownAttributeWarning", "load_run_files", "write_run"]
