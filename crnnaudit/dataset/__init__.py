"""Dataset audits: a whole archive of clips through the model and its explanations.

- :mod:`.executors`: the one driver (:func:`~.executors.run_batch`) and the executor interface;
  the local executor; where a new executor goes;
- :mod:`.runner`: :class:`~.runner.ClipProcessor` (one clip: score, explain, record) and
  :func:`~.runner.gather` (the run's tables and summary);
- :mod:`.ray_executor`: the same per-clip work on a Ray Data pipeline of model-holding actors;
- :mod:`.figures`: ROC-AUC and other figures of labelled clips (the demo's evaluation uses them);
- :mod:`.explained`: what each explained window keeps, and the run's figures over them;
- :mod:`.shortcuts`: the shortcut screen (spectral relevance analysis);
- :mod:`.report`: the self-contained HTML run report.
"""
