"""The watcher: the best score so far (what best.pt holds) and the failures a run can show, named while they
happen, each once (those of a direction once per direction), as a one-line warning with what to try:

- the discriminator wins outright: its loss near 0 and the generator's adversarial loss flat for many steps
  (from the logged losses: no --eval-every needed);
- the generator stays at its input: its translations change the held-out images by almost nothing;
- collapse: its outputs of different inputs are nearly equal, or, once they followed their inputs, differ elsewhere;
- a tint: its translations drift to one colour cast, far from the target domain's;
- the scores get worse for a long stretch (--stop-when-worse K stops the run then).
- the scores are not finite (NaN or inf where the losses are not): no best.pt while it lasts.

Everything it remembers is plain data (`state_dict`), saved in checkpoint.pt: a resumed run warns, keeps
best.pt and stops exactly as the uninterrupted run would. The thresholds are measured in the README
("Scores while training").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import families
from ..config import DIFFAUG_POLICIES, option_fields
from ..errors import shown_score
from ..options import given_as
from ..warning_levels import (  # the levels the web page's Runs tab names too
    COLLAPSED,
    FOLLOWED,
    STILL,
    TINTED,
    UNFOLLOWED,
)
from .scoring import BETTER, PREFIX, mean_score

D_NEAR_ZERO = 0.03  # a discriminator's loss below this on average over the window (and never twice as high): it
# tells every image apart
ADV_FLAT = 0.1  # ... while the generator's adversarial loss moves less than this (relative) over the window
WINDOW = 200  # steps both must hold
REPEATS = 2  # evaluations in a row that must show "stays at its input", "collapse" or a tint
TINT_FROM = 200  # steps before which no tint is named: a generator's first steps have not learned the target's
# colours (a 4-step demo's grey outputs read 0.19); the synthetic world's `fast` run was at 0.02 by step 20
FOLLOWS_FROM = 200  # steps before which `follows` counts neither way: a generator's first steps give blurred outputs
# that barely follow their inputs (0.01-0.03 at steps 4-12 on the synthetic world at 32 px, 0.06 at step 80), and an
# untrained one's read up to 0.13 on 4 images by chance (noise, step 100): no proof of having learned (FOLLOWED)
LEARNING = 0.8  # a tint under this fraction of the direction's previous one shrinks: the generator is still learning
# the target's colours (its first steps' grey outputs), not drifting away from them; it starts no count
WORSE_EVALS = 4  # evaluations in a row without a better score before "getting worse" is considered
WORSE_MARGIN = {"psnr": 1.0, "cycle_psnr": 1.0, "ssim": 0.03}  # absolute; kid: relative, below
KID_WORSE = 0.5  # kid 50% above its best (and 0.002 above) is worse
DIFFAUG_ALL = ",".join(DIFFAUG_POLICIES)  # what a warning offers against a discriminator that wins or a collapse

# (discriminator loss, the adversarial loss of the generator it judges), as the trainers name them
ADVERSARIES = (("D", "G_adv"), ("D_Y", "G_adv"), ("D_X", "F_adv"))


@dataclass
class Verdict:
    """How a run went: the best evaluation (None without --eval-every) and the warnings it printed."""

    metric: str | None
    best_step: int | None
    best_value: float | None
    last_value: float | None
    warnings: list[str]
    evaluations: int = 0  # evaluations of `metric` (a non-finite score counted: no best then)

    def lines(self) -> list[str]:
        out = []
        if self.best_step is not None:
            last = "" if self.last_value is None else f", last evaluation {shown_score(self.metric, self.last_value)}"
            out.append(
                f"verdict: best {self.metric} {shown_score(self.metric, self.best_value)} at step {self.best_step} "
                f"(best.pt){last}"
            )
        elif self.metric is not None and self.last_value is not None:  # best.pt lost (`Monitor._check_best`)
            out.append(
                f"verdict: no best.pt (lost since the checkpoint; the next evaluation writes it), last evaluation "
                f"{self.metric} {shown_score(self.metric, self.last_value)}"
            )
        elif self.metric is not None and self.evaluations:
            out.append(f"verdict: no finite {self.metric} in {self.evaluations} evaluations (no best.pt)")
        elif self.metric is not None:
            # no option named: the demo, which has no --eval-every (it scores every 200 steps), prints this line too
            out.append("verdict: no evaluation yet (the run ended before its first)")
        else:
            out.append(f"verdict: not scored (add {given_as('eval_every', 'N')} for scores and best.pt)")
        # the watcher's own (training going wrong), not every warning the run printed (left-out files, ...)
        out.append(f"failure warnings: {len(self.warnings)}")
        out += [f"  {w}" for w in self.warnings]  # a line each: `progress.print_out` writes each as one
        return out


def _of(scores: dict[str, float], name: str) -> dict[str, float]:
    """Score `name` of each direction scored (eval/DIRECTION/NAME), by direction, in the order scored."""
    return {k.split("/")[1]: v for k, v in scores.items() if k.startswith(PREFIX) and k.endswith("/" + name)}


def _collapsed(scores: dict[str, float], followed: dict[str, float]) -> dict[str, tuple[float | None, float | None]]:
    """The directions whose outputs collapsed, with their (spread, follows): `spread` under COLLAPSED (nearly one
    output), or `follows` under UNFOLLOWED where the direction's had reached FOLLOWED (`followed`: outputs that
    followed their inputs and now differ, but not where their inputs do: blobs of one kind, whose sizes `spread` reads
    as healthy). Not in a direction that never followed: a generator still learning reads as low (from step 200 too)."""
    spreads, follows = _of(scores, "spread"), _of(scores, "follows")
    return {
        d: (spreads.get(d), follows.get(d))
        for d in {**spreads, **follows}
        if spreads.get(d, COLLAPSED) < COLLAPSED
        or (followed.get(d, 0.0) >= FOLLOWED and follows.get(d, UNFOLLOWED) < UNFOLLOWED)
    }


def _named(family: str | None, *options: tuple[str, object]) -> list[str]:
    """The options (name, value to show, or None) a warning offers, as the caller gives them, of those the run's
    model `family` takes (None: all): "stays at its input" offered a CycleGAN run --lambda-nce and a CUT run
    --lambda-cycle, each refused as applying to the other model."""
    known = option_fields()
    takes = [(k, v) for k, v in options if family is None or family in families.accepting(k, known[k][0])]
    return [given_as(k) if v is None else given_as(k, v) for k, v in takes]


class Watch:
    """Feeds on the logged loss means (`on_losses`) and the scores of each evaluation (`on_scores`); both
    return the warnings that just fired (each kind fires once per run, per direction for those of a direction)."""

    def __init__(
        self,
        metric: str | None,
        *,
        stop_when_worse: int = 0,
        held_out: str | None = None,
        held_out_files: str | None = None,
        family: str | None = None,
    ):
        self.metric = metric  # the --best-by score (None: no evaluation)
        self.family = family  # the run's model, whose options the warnings offer (None: every one)
        self.held_out = held_out  # which images are scored (`HeldOut.digest`; None: no evaluation)
        self.held_out_files = held_out_files  # and their bytes (`HeldOut.files_digest`): edited in place
        self.stop_when_worse = stop_when_worse
        self.losses: list[tuple[int, dict[str, float]]] = []  # the records of the last WINDOW steps
        self.best_step: int | None = None
        self.best_value: float | None = None
        self.last_value: float | None = None
        self.since_best = 0  # evaluations since the best
        self.evaluations = 0  # evaluations of the metric, finite or not
        # per kind, per direction showing it: evaluations in a row
        self.still: dict[str, dict[str, int]] = {"identity": {}, "collapse": {}, "tint": {}}
        self.tints: dict[str, float] = {}  # per direction, the last evaluation's tint (LEARNING)
        self.followed: dict[str, float] = {}  # per direction, the highest `follows` from FOLLOWS_FROM (FOLLOWED)
        self.fired: list[str] = []  # kinds that warned
        self.warnings: list[str] = []

    # --- what is saved in checkpoint.pt ---------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "metric": self.metric,
            "held_out": self.held_out,
            "held_out_files": self.held_out_files,
            "losses": [[s, dict(m)] for s, m in self.losses],
            "best_step": self.best_step,
            "best_value": self.best_value,
            "last_value": self.last_value,
            "since_best": self.since_best,
            "evaluations": self.evaluations,
            "still": {k: dict(v) for k, v in self.still.items()},
            "tints": dict(self.tints),
            "followed": dict(self.followed),
            "fired": list(self.fired),
            "warnings": list(self.warnings),
        }

    def load_state_dict(self, state: dict | None) -> None:
        if not state:  # a checkpoint of an older version: the watch starts afresh
            return
        self.losses = [(int(s), dict(m)) for s, m in state["losses"]]
        # older checkpoints count each kind over all directions at once: counted afresh
        # (and without the kinds added since: "tint" counted afresh, not a KeyError at the first evaluation)
        self.still = {k: {} for k in self.still} | {
            k: dict(v) if isinstance(v, dict) else {} for k, v in state["still"].items()
        }
        self.tints = dict(state.get("tints", {}))  # not in older checkpoints: the next evaluation starts afresh
        self.followed = dict(state.get("followed", {}))  # nor this: a collapse named once it follows again
        self.fired, self.warnings = list(state["fired"]), list(state["warnings"])
        if self.metric is None and state.get("best_step") is not None:  # scoring off this time (--eval-every 0):
            self.metric = state.get("metric")  # its best (what best.pt holds) stays for when scoring is back on
            self.held_out, self.held_out_files = state.get("held_out"), state.get("held_out_files")
        if state.get("metric", self.metric) != self.metric:  # resumed with another --best-by: its best starts afresh
            return
        if self.held_out_changed(state):  # other images (test files added, --data changed): scores not comparable
            return
        self.best_step, self.best_value = state["best_step"], state["best_value"]
        self.last_value, self.since_best = state["last_value"], state["since_best"]
        self.evaluations = state.get("evaluations", 0)  # not in the checkpoints of older versions

    def held_out_changed(self, state: dict | None) -> bool:
        """Whether `state` (a checkpoint's) scored other held-out images than this run does: other names, or the same
        names edited in place (older checkpoints do not say: taken as the same)."""
        if not isinstance(state, dict):
            return False
        return any(
            None not in (state.get(key), mine) and state.get(key) != mine
            for key, mine in (("held_out", self.held_out), ("held_out_files", self.held_out_files))
        )

    def forget_best(self) -> None:
        """Start the best afresh: the next evaluation is the best so far (best.pt was lost)."""
        self.best_step = self.best_value = None
        self.since_best = 0

    def verdict(self) -> Verdict:
        return Verdict(
            self.metric, self.best_step, self.best_value, self.last_value, list(self.warnings), self.evaluations
        )

    # --- the detectors ----------------------------------------------------------------------------------

    def _fired(self, kind: str) -> bool:
        """Whether `kind` warned before: "collapse/AtoB" also where the whole kind did, as checkpoints of older
        versions hold it (named once per run, whichever direction)."""
        return kind in self.fired or kind.split("/")[0] in self.fired

    def _fire(self, kind: str, message: str, *, directions: list[str] | None = None) -> list[str]:
        """`message` as a warning, unless `kind` warned before; of `directions` (a kind named per direction), each
        remembered as "kind/DIRECTION"."""
        keys = [f"{kind}/{d}" for d in directions] if directions is not None else [kind]
        if all(self._fired(k) for k in keys):
            return []
        self.fired += keys
        line = f"warning: {message}"
        self.warnings.append(line)
        return [line]

    def on_losses(self, step: int, means: dict[str, float | None]) -> list[str]:
        """The loss means of the record at `step`: the discriminator-wins detector."""
        keep = {k: v for k, v in means.items() if v is not None and any(k in pair for pair in ADVERSARIES)}
        self.losses = [(s, m) for s, m in self.losses if s > step - WINDOW] + [(step, keep)]
        first = self.losses[0][0]
        span = step - first + (step - self.losses[-2][0] if len(self.losses) > 1 else 0)
        if span < WINDOW:
            return []
        for d, g in ADVERSARIES:
            ds = [m.get(d) for _, m in self.losses]
            gs = [m.get(g) for _, m in self.losses]
            if None in ds or None in gs:
                continue
            mean_d, mean_g = sum(ds) / len(ds), sum(gs) / len(gs)
            near_zero = mean_d < D_NEAR_ZERO and max(ds) < 2 * D_NEAR_ZERO
            if near_zero and max(gs) - min(gs) < ADV_FLAT * max(1.0, abs(mean_g)):
                weaker = _named(self.family, ("d_layers", 2), ("ndf", 32), ("diffaug", DIFFAUG_ALL), ("r1_gamma", 1))
                nce = _named(self.family, ("lambda_nce", 1))
                lighter = f" or lighter weights on the other losses (FastCUT: {nce[0]})" if nce else ""
                return self._fire(
                    "d_wins",
                    f"the discriminator wins: {d} at {mean_d:.3f} and {g} flat at {mean_g:.2f} for the last {span} "
                    f"steps (step {step}), so the generator learns nothing from it. Try a weaker discriminator "
                    f"({', '.join(weaker)}){lighter}",
                )
        return []

    def on_scores(self, step: int, scores: dict[str, float]) -> tuple[bool, list[str]]:
        """The scores of the evaluation at `step`: (whether it is the best so far, the warnings that fired)."""
        fired: list[str] = []
        still = {d: v for d, v in _of(scores, "change").items() if v < STILL}
        collapsed = _collapsed(scores, self.followed)
        if step >= FOLLOWS_FROM:
            for d, v in _of(scores, "follows").items():
                self.followed[d] = max(v, self.followed.get(d, v))
        fired += self._repeated("identity", step, still)
        fired += self._repeated("collapse", step, collapsed)
        # a generator that returns its input, or one image, has its input's cast or that image's: named as such
        tints = {d: v for d, v in _of(scores, "tint").items() if d not in still and d not in collapsed}
        tinted = {d: v for d, v in tints.items() if not self._learning(d, v) and v > TINTED}
        fired += self._repeated("tint", step, tinted if step >= TINT_FROM else {})
        value = mean_score(scores, self.metric) if self.metric else None
        if value is None:
            return False, fired
        self.evaluations += 1
        if not math.isfinite(value):  # never the best: say so, or the run ends without best.pt and no word why
            self.since_best += 1  # an evaluation without a better score, for --stop-when-worse
            self.last_value = None  # the verdict named the last finite one as the last evaluation's
            fired += self._fire(
                "not_finite",
                f"the scores are not finite: {self.metric} is {value} at step {step}, although the losses are: the "
                f"generators as translation uses them (eval mode; with {given_as('norm', 'batch')}, its running "
                f"statistics) give NaN or inf. No best.pt while this lasts; try {given_as('precision', 'fp32')} or a "
                f"lower {given_as('lr')}",
            )
            return False, fired
        self.last_value = value
        better = self.best_value is None or BETTER[self.metric] * (value - self.best_value) > 0
        if better:
            self.best_step, self.best_value, self.since_best = step, value, 0
            return True, fired
        self.since_best += 1
        if self.since_best >= WORSE_EVALS and self._clearly_worse(value):
            fired += self._fire(
                "worse",
                f"the scores are getting worse: {self.metric} {shown_score(self.metric, value)} at step {step}, "
                f"{self.since_best} evaluations after the best, {shown_score(self.metric, self.best_value)} at step "
                f"{self.best_step} (kept in best.pt). Use best.pt; a lower {given_as('lr')} or more data may help, "
                f"and {given_as('stop_when_worse', 'K')} stops such a run early",
            )
        return False, fired

    def _clearly_worse(self, value: float) -> bool:
        if self.metric == "kid":  # unbiased, so below 0 on small sets: "half again as high" of 0 there, or every
            # evaluation not better than a best of -0.01 was "clearly worse" (-0.015 + 0.002 is under it)
            return value > max(self.best_value, 0.0) * (1 + KID_WORSE) + 0.002
        return BETTER[self.metric] * (self.best_value - value) > WORSE_MARGIN[self.metric]

    def _learning(self, direction: str, tint: float) -> bool:
        """Whether the tint of `direction` shrank to under LEARNING of its previous evaluation's (and remember it): a
        generator still learning the target's colours, not one drifting from them."""
        before, self.tints[direction] = self.tints.get(direction), tint
        return before is not None and tint < LEARNING * before

    def should_stop(self) -> bool:
        """--stop-when-worse K: K evaluations in a row have not beaten the best."""
        return bool(self.stop_when_worse) and self.since_best >= self.stop_when_worse

    def _repeated(self, kind: str, step: int, low: dict[str, object]) -> list[str]:
        """Warn when some direction shows failure `kind` (`low`: the directions showing it at `step`, with the scores
        that say so) for REPEATS evaluations in a row."""
        # per direction: AtoB low once and BtoA low next was "2 evaluations in a row" of BtoA
        self.still[kind] = {d: self.still[kind].get(d, 0) + 1 for d in low}
        # each direction named once (those showing it at once in one line): the first to fail stood for both, so a
        # run whose BtoA collapsed and recovered while AtoB collapsed for good ended naming BtoA alone
        shown = [d for d, n in self.still[kind].items() if n >= REPEATS and not self._fired(f"{kind}/{d}")]
        if not shown:
            return []
        return self._fire(kind, self._message(kind, step, {d: low[d] for d in shown}), directions=shown)

    def _message(self, kind: str, step: int, values: dict) -> str:
        """What `_repeated` says of the directions showing failure `kind` at `step` (one line), with their scores."""
        (d, v), *others = values.items()
        if kind == "identity":
            keeping = _named(self.family, ("lambda_identity", None), ("lambda_cycle", None), ("lambda_nce", None))
            lower = (
                f"lower weights on the losses that reward keeping the input ({', '.join(keeping)}) or "
                if keeping
                else ""
            )
            also = "".join(f", {o} by {u:.4f}" for o, u in others)
            return (
                f"the generator stays at its input: {d} changes the held-out images by {v:.4f} on average{also} (mean "
                f"|G(x) - x| in [-1, 1] units) at step {step}, {REPEATS} evaluations in a row. Try {lower}a "
                "stronger discriminator"
            )
        if kind == "tint":
            identity = "".join(
                f"{o} (the identity loss keeps the input's colours), "
                for o in _named(self.family, ("lambda_identity", 0.5))
            )
            also = "".join(f", {o}'s by {u:.3f}" for o, u in others)
            return (
                f"the translations drift to one colour cast: {d}'s mean colour is off the target domain's held-out "
                f"images' by {v:.3f}{also} in a channel (in [-1, 1] units, brightness aside) at step {step}, "
                f"{REPEATS} evaluations in a row. Try {identity}a lower {given_as('lr')}, or a held-out target set "
                "whose colours are the domain's"
            )
        diffaug = "".join(f"{o}, " for o in _named(self.family, ("diffaug", DIFFAUG_ALL)))
        shown = []
        for i, (o, (spread, follows)) in enumerate(values.items()):
            if spread is not None and spread < COLLAPSED:  # nearly one output
                first = f"translations of different images differ {spread:.1%} as much as the images do"
                shown.append(f"{o}'s {first if i == 0 else f'{spread:.1%}'}")
            else:  # outputs that differ, but not where their inputs do
                shown.append(
                    f"{o}'s translations differ, but not where the images do (follows {follows:.2f}, under "
                    f"{UNFOLLOWED:g})"
                )
        return (
            f"the outputs stop depending on the input (collapse): {', '.join(shown)} at step {step}, {REPEATS} "
            "evaluations in a row. Try a lower "
            f"{given_as('lr')}, {diffaug}or another {given_as('seed')}; best.pt keeps the best step so far"
        )
