"""The BentoML ranking service over one exported bundle (:mod:`release` builds bundles).

It needs only its serving dependencies (BentoML, onnxruntime, pandas, pydantic) and imports
nothing else of the project: no features, training, MLflow or LightGBM, and no pickle. The
Docker image holds this package alone.
"""
