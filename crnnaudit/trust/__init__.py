"""How far to trust an explanation, each figure computed by re-running the model on changed
inputs (nothing is read off the maps alone):

    verdict.py         each map's verdict on its window against random deletions
    faithfulness.py    deletion and insertion curves; temporal deletion against random orders
    agreement.py       where two methods agree (rank correlation, top-k overlap)
    sanity.py          cascading model-parameter randomisation
    localisation.py    against ground truth: pointing game, energy inside, temporal hit
    counterfactual.py  what would have changed the outcome: frames, then region, verified
    perturb.py         the perturbations they share; memo.py: figures kept by content
"""

from __future__ import annotations

from ..lazy import lazy_exports

# No name here is also a module's name: importing ``trust.agreement`` (the module) would
# otherwise hide a function of that name.
_EXPORTS = {"verdicts": ".verdict", "signed": ".verdict",
            "method_faithfulness": ".faithfulness", "faithfulness_table": ".faithfulness",
            "deletion_insertion": ".faithfulness", "temporal_deletion": ".faithfulness",
            "agreement_table": ".agreement", "spearman": ".agreement", "topk_overlap": ".agreement",
            "sanity_randomisation": ".sanity", "localisation_figures": ".localisation",
            "counterfactual_for_window": ".counterfactual", "counterfactual_summary": ".counterfactual"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, {"counterfactual_for_window": "for_window",
                                                         "counterfactual_summary": "summary"}, globals())
