"""``feature-extraction``: train on the sources, freeze that encoder and train only a light
linear head on the user embeddings with the target's pairs."""

from __future__ import annotations

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun


class FeatureExtraction(Strategy):
    """A frozen source encoder and a trained user head."""

    name = "feature-extraction"

    def run(self, run: StrategyRun) -> StrategyResult:
        pre = run.train(None, run.sources, user_head=True, head_only=False,
                        name=f"{self.name} (sources)")
        trained = run.train(None, [run.target], pre.fit.state, user_head=True, head_only=True,
                            name=f"{self.name} (head)")
        return run.finish(self.name, trained)
