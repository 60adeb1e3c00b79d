"""Bounded hypothesis fuzzing of the sans-I/O cores: SSE decoding, the models, accumulation."""
