"""The IMDB TFX pipeline: one create_pipeline(...) for every runner."""
