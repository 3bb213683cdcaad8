"""``adabn``: train on the sources with scenario-specific normalisation of item embeddings
(per-scenario statistics, as domain-specific BatchNorm), then serve the target with its own
statistics (AdaBN, Li et al. 2016): no target labels, no gradient step on the target."""

from __future__ import annotations

import torch

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class AdaBN(Strategy):
    """Source training with per-scenario normalisation; target statistics at serving time."""

    name = "adabn"

    def run(self, run: StrategyRun) -> StrategyResult:
        trained = run.train(None, run.sources, scenario_norm=True, name=self.name)
        trained.model.fit_scenario_norm(trained.graph)
        with torch.no_grad():
            trained.embeddings = trained.model(trained.graph)
        return run.finish(self.name, trained)
