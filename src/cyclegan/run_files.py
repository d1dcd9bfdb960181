"""What a training run's folder holds, by name, and the tag of the checkpoint format: no torch, so the web
page's run list, the demo and the trainer read the same names."""

FORMAT = "cyclegan-checkpoint"  # the "format" entry of every checkpoint `cyclegan train` writes
CHECKPOINT_NAME = "checkpoint.pt"  # the resumable checkpoint (networks, optimizers, schedules, RNG, ...)
BEST_NAME = "best.pt"  # the generators at the best --eval-every score (--best-by), with that step and score
GENERATORS_ONLY = "generators"  # "contents" of a checkpoint of generators alone: best.pt, save_generator's (one)
CONFIG_NAME = "config.json"  # the run's resolved configuration
LOG_NAME = "log.jsonl"  # one JSON record per logged step
SAMPLES_DIR = "samples"  # sample grids, samples/step_NNNNNNN.png
TENSORBOARD_DIR = "tensorboard"
RUN_FILES = (CONFIG_NAME, LOG_NAME, CHECKPOINT_NAME)  # any one of them makes a folder a run
