"""ONNX export and the BentoML ranking service (built in the serving issue). Imports features, never training."""
