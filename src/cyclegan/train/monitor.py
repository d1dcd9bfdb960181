"""A run's evaluations and watcher, as the step loop meets them: the scores of each `--eval-every` step (rank 0),
best.pt when they are the best so far, each warning printed once, the watcher's state for checkpoint.pt, the
stop of `--stop-when-worse` (every rank agrees), and the verdict at the end."""

from __future__ import annotations

import time
from pathlib import Path

from ..checkpoint import load_checkpoint
from ..errors import CycleGANError, counted, escape
from ..inference import is_out_of_memory
from ..options import given_as
from ..progress import print_line, print_out, print_warning
from ..run_files import BEST_NAME, CHECKPOINT_NAME, WATCH_KEY
from . import distributed as ddp
from .run_folder import Run, once_fixed
from .scoring import HeldOut, Scorer, best_metric
from .trainer import Trainer
from .watch import Verdict, Watch


def _unread_reason(e: CycleGANError | OSError, path: Path) -> str:
    """Why checkpoint `path` cannot be read, without its path, which the warning names first: it said it twice
    ("RUN/best.pt held the best step so far (2), but it cannot be read (cannot read checkpoint RUN/best.pt: ...)")."""
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    shown = escape(path)  # as the library's messages name it
    said = str(e).splitlines()[0] if str(e) else type(e).__name__
    return said.split(f"{shown}: ", 1)[-1].replace(shown, "it")[:200]


def scoring_schedule(every: int, total: int, *, fitted: bool = False) -> str:
    """When a run scores, as its first line says it: every `every` steps, and at the schedule's last step too where
    that is no multiple of them (the loop scores the final model; "scoring every 300 steps" left the run's extra
    evaluation at step 1000 unexplained, and `--eval-every 1` read "every 1 steps"). A `fitted` total (--fit-steps)
    moves as the run goes: its last step is named without a number."""
    if every == 1:
        return "every step"
    if not fitted and total % every == 0:
        return f"every {counted(every, 'step')}"
    last = "the last step" if fitted else f"the last step ({total})"
    return f"at {last} only" if not fitted and every > total else f"every {counted(every, 'step')} and at {last}"


class Monitor:
    """What the step loop asks at each record: whether to score now, the scores, what they mean."""

    def __init__(self, run: Run, trainer: Trainer, held: HeldOut | None, ckpt: dict | None):
        t = run.cfg.train
        self.run, self.trainer, self.every = run, trainer, t.eval_every
        self.metric = best_metric(run.cfg, held) if held is not None else None
        digest, files = (held.digest(), held.files_digest()) if held is not None else (None, None)
        self.watch = Watch(
            self.metric,
            stop_when_worse=t.stop_when_worse,
            held_out=digest,
            held_out_files=files,
            family=run.cfg.model.family,
        )
        changed = False
        if ckpt is not None:
            try:
                stored = ckpt.get(WATCH_KEY)
                changed = self.watch.held_out_changed(stored) and stored.get("best_step") is not None
                self.watch.load_state_dict(stored)
            except (KeyError, TypeError, ValueError, AttributeError) as e:  # an edited or damaged file: one line
                raise CycleGANError(
                    f"{run.folder / CHECKPOINT_NAME}: its '{WATCH_KEY}' state cannot be read ({type(e).__name__}: "
                    f"{str(e)[:100]}); the file is damaged or was written by another version"
                ) from None
        self.scorer = Scorer(run.cfg, held, run.device) if held is not None and run.main else None
        self.ahead: int | None = None  # best.pt's step, after the checkpoint's, until this run scores that step again
        self.failed: str | None = None  # why an evaluation ran out of memory (rank 0): the run saves and stops
        if self.scorer is not None:
            when = scoring_schedule(t.eval_every, run.total, fitted=bool(t.fit_steps))
            print_out(f"scoring {when} on {escape(held.where)}; best.pt by {self.metric}")
            if changed:  # its best was scored on other images: the next evaluation is the best so far
                print_warning(
                    "warning: the held-out images differ from those the checkpoint's scores were on (images "
                    f"added, removed, renamed or edited, or another {given_as('data')}): the best so far starts "
                    f"afresh, and the next evaluation writes {escape(run.folder / BEST_NAME)} again"
                )
            self._check_best(scoring=True, resumed_at=ckpt["step"] if ckpt is not None else 0)
        elif run.main:  # scoring off this time: the verdict names best.pt, which must be there
            self._check_best(scoring=False, resumed_at=ckpt["step"] if ckpt is not None else 0)

    def _check_best(self, *, scoring: bool, resumed_at: int = 0) -> None:
        """A resumed run whose best.pt is gone, unreadable or not the one its checkpoint knows: the next evaluation
        writes it again (else best.pt waits for a score better than the lost one's, and the verdict names a file that
        is not there, or not what it says). One written after the checkpoint (a kill between the two) is this run's
        own next best: the best so far stays the checkpoint's until the run scores that step again (`ahead`), so the
        run goes on as one never stopped (forgotten at once, a worse evaluation became the best, and warnings and
        --stop-when-worse counted from it)."""
        if self.watch.best_step is None:
            return
        path = self.run.folder / BEST_NAME
        keep = ""
        try:
            step = load_checkpoint(path).get("step")
        except (CycleGANError, OSError) as e:
            why = "it is missing" if not path.is_file() else f"it cannot be read ({_unread_reason(e, path)})"
        else:
            if step == self.watch.best_step:
                return
            after = isinstance(step, int) and step > resumed_at
            if scoring and after:
                self.ahead = step
                return
            # after: the run stopped between best.pt and its next checkpoint, and this resume does not score, so it
            # cannot find that step best again; else a file put back (an older copy, another run's)
            why = (
                f"it holds step {step}, scored after the checkpoint this run resumed from (step {resumed_at}), in "
                "steps the stop lost"
                if after
                else f"it holds step {step} instead (an older copy put back, or another run's file)"
            )
            keep = f" (copy it elsewhere first to keep step {step}'s generators)"
        again = "the next evaluation" if scoring else f"the first evaluation of a resume with {given_as('eval_every')}"
        print_warning(
            f"warning: {escape(path)} held the best step so far ({self.watch.best_step}), but {escape(why)}: {again} "
            f"writes it again{escape(keep)}"
        )
        self.watch.forget_best()

    def due(self, step: int) -> bool:
        return bool(self.every) and step % self.every == 0

    def evaluate(self) -> dict[str, float]:
        """The scores of the generators now (rank 0; {} elsewhere), with the seconds they took (`eval_s`)."""
        if self.scorer is None:
            return {}
        t0 = time.perf_counter()
        try:
            scores = self.scorer(self.trainer.scored_generators())
        except (RuntimeError, MemoryError) as e:  # the training steps fit: their work is saved (`out_of_memory`)
            if not is_out_of_memory(e):
                raise
            self.failed = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            return {}
        return {**scores, "eval_s": round(time.perf_counter() - t0, 3)}

    def out_of_memory(self, step: int) -> CycleGANError | None:
        """The error that stops the run after an evaluation ran out of memory (every rank calls it at each
        evaluation: rank 0 scores), once the caller saved the step: it ended in a traceback, the steps since the last
        checkpoint lost, though training fitted and only the scoring did not."""
        if not ddp.any_rank(self.failed is not None, self.run.d_ctx):
            return None
        why = f" ({escape(self.failed)})" if self.failed else ""
        saved = f"the evaluation at step {step} ran out of memory{why}; the checkpoint is saved at step {step}"
        resume = self.run.goes_on_with()
        if self.run.resume_with is not None:  # a caller's command (the demo's), which takes no scoring options
            return CycleGANError(f"{saved} (continue with: {resume})")
        if self.run.cfg.train.eval_kid and self.metric != "kid":  # kid's features are the most: the rest may fit
            return CycleGANError(
                f"{saved}: go on scoring less with {resume} --no-eval-kid, or without scores with --eval-every 0"
            )
        return CycleGANError(f"{saved}: go on without scores with {resume} --eval-every 0")

    def observe(
        self, step: int, means: dict[str, float | None], *, scores: dict[str, float], saved: int | None
    ) -> list[str]:
        """A log record's loss means and (at an evaluation) scores: warnings, printed and returned (rank 0; [] on the
        others) for the record, and best.pt when best. `saved`: the step of the checkpoint on disk (None: none yet),
        named if best.pt cannot be written."""
        fired = self.watch.on_losses(step, means)
        if scores:
            if self.ahead is not None and step > self.ahead:  # best.pt's step was not scored again: this one writes it
                self._not_scored_again(step, "this evaluation")
            best, more = self.watch.on_scores(step, scores)
            fired += more
            if self.ahead is not None and step == self.ahead:  # scored again: rewritten if the best, as it was
                if best:
                    self.ahead = None
                else:  # another run than the one stopped (other images, options)
                    self._not_scored_again(step, "the next evaluation")
            if best and self.run.main:
                path = self.run.folder / BEST_NAME
                record = {k: v for k, v in scores.items() if k != "eval_s"}
                try:
                    self.trainer.save_generators(
                        path,
                        step=step,
                        best={"metric": self.metric, "value": self.watch.best_value, "step": step, "scores": record},
                    )
                except OSError as e:  # a full disk: one line; the last checkpoint and the previous best.pt stay
                    why = e.strerror or e
                    raise CycleGANError(
                        f"cannot write {path} at step {step}: {why}; {self._kept(path, saved, e)}"
                    ) from None
        fired = fired if self.run.main else []
        print_line(*fired)
        return fired

    def _not_scored_again(self, step: int, again: str) -> None:
        """best.pt holds a step the resumed run did not find best again (another run than the one stopped: other
        images, options): the best starts afresh, `again` writing best.pt."""
        if self.run.main:
            print_warning(
                f"warning: {escape(self.run.folder / BEST_NAME)} holds step {self.ahead}, written before the run "
                f"stopped, which the resumed run did not score as its best at step {step}: {again} writes it again"
            )
        self.ahead = None
        self.watch.forget_best()

    def should_stop(self) -> bool:
        """--stop-when-worse: whether the run stops here (a collective: every rank calls it at each evaluation)."""
        return ddp.any_rank(self.run.main and self.watch.should_stop(), self.run.d_ctx)  # rank 0 holds the scores

    def state(self) -> dict:
        return {WATCH_KEY: self.watch.state_dict()}

    def verdict(self) -> Verdict:
        if self.ahead is not None and self.run.main:  # the run ended before the step best.pt holds
            print_warning(
                f"warning: {escape(self.run.folder / BEST_NAME)} holds step {self.ahead}, written before the run "
                f"stopped, which this run did not reach again (the best it scored: step {self.watch.best_step})"
            )
        return self.watch.verdict()

    def _kept(self, best: Path, saved: int | None, e: OSError) -> str:
        """What is left to go on with after best.pt could not be written (`e`)."""
        when = once_fixed(e, self.run.folder)
        if saved is not None:
            return f"the checkpoint of step {saved} is kept ({when}: {self.run.goes_on_with()})"
        # nothing to resume: the run starts again, which a best.pt without its checkpoint refuses
        moved = f", after moving {best} away" if best.exists() else ""
        return f"no checkpoint was saved yet, nothing to resume: {when}, start the run again{moved}"


def stored_verdict(ckpt: dict) -> Verdict | None:
    """The verdict a checkpoint's watcher state holds (a run trained to its end, nothing left to train); None where
    it has none or cannot be read."""
    state = ckpt.get(WATCH_KEY)
    if not isinstance(state, dict):
        return None
    watch = Watch(state.get("metric"))
    try:
        watch.load_state_dict(state)
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return watch.verdict()
