"""The training loop: prepare data from a suite, fine-tune, evaluate, compare, feed back, iterate."""
