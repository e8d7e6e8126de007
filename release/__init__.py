"""The offline build of what the service serves: a registered model converted to ONNX
(:mod:`release.onnx_model`), checked by the parity gate and written with its feature snapshot
as a bundle (:mod:`release.export`), then published atomically into a serving root
(:mod:`release.publish`).

Release reads MLflow and rebuilds features; the service (:mod:`serving`) reads only the
bundle. Nothing here imports training.
"""
