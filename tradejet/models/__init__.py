"""Feature schema, labels, training, ONNX export and inference, artifacts and gates."""
