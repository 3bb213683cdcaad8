"""Transfer strategies to a sparse target scenario, one class per module, found by name.

- baselines without training (:mod:`.baselines`): ``popularity``, ``attribute-popularity``,
  ``content-popularity``, ``item-knn``, ``attribute-knn``, ``ease``;
- ``target-only``, ``joint``, ``finetune``, ``feature-extraction``, ``adabn``;
- ``guarded`` (negative-transfer guard), ``reptile`` and ``maml`` (meta-learning), ``shot``
  (source-free adaptation).

Every learned strategy trains with the one :class:`~graphrec.training.Trainer` and selects its
epoch on the target's ``valid`` split (NDCG@k, all users).
"""

from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun, TrainedModel
from graphrec.strategies.decision import decision_rows, strategy_decision
from graphrec.strategies.registry import (
    BASELINES,
    CONFIGURABLE,
    LEARNED,
    REGISTRY,
    STRATEGIES,
    STRATEGY_CLASSES,
    best_with_embeddings,
    compare,
    get_strategy,
    item_embedding_table,
    make_strategy,
    run_strategy,
    strategy_settings,
)

__all__ = ["BASELINES", "CONFIGURABLE", "LEARNED", "REGISTRY", "STRATEGIES",
           "STRATEGY_CLASSES", "Strategy", "StrategyResult", "StrategyRun", "TrainedModel",
           "best_with_embeddings", "compare", "decision_rows", "get_strategy",
           "item_embedding_table", "make_strategy", "run_strategy", "strategy_decision",
           "strategy_settings"]
