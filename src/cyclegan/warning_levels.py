"""The score levels at which the watcher (`train.watch`) names a failure, in a module without torch: the web page's
Runs tab draws the scores beside the levels it names, and imports no training. Measured in the README ("Scores
while training")."""

STILL = 0.01  # mean |G(x) - x| (in [-1, 1] units, about 1.3 grey levels) under which a generator returns x
COLLAPSED = 0.1  # outputs' spread, relative to the inputs', under which they no longer depend on the input
UNFOLLOWED = 0.05  # `follows` under which the outputs' differences no longer follow the inputs' (in a direction
# that had reached FOLLOWED): healthy synthetic-world runs read 0.11-0.37 from step 300, collapsed ones 0.00-0.02
# (`benchmarks/results/collapse_scores_synthetic.txt`)
FOLLOWED = 0.1  # `follows` a direction must have reached (from step `watch.FOLLOWS_FROM`) before one under UNFOLLOWED
# names a collapse: a default --preset fast run at 32 px (64 images, 4 held out) still learning read 0.00-0.08 to
# step 600, its outputs' dark blobs where the trees are, and was named a collapse in both directions
TINTED = 0.1  # the translations' mean colour cast this far from the target images' (`scoring.tint`: in [-1, 1]
# units, beyond two standard errors): a tint
