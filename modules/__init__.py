"""User modules run inside TFX components (the Trainer's run_fn and its model)."""
