"""Live training progress in a notebook: a progress line and loss/accuracy curves, redrawn from the run's
metrics.jsonl by a background thread while the trainer runs (in the kernel or under torchrun). Nobody watches a
notebook that `actionbook run` executes (papermill saves it at the end): there only the final line and curves are
drawn, which saved about 1.2 s of a proxy run's CPU (issue 19)."""

from __future__ import annotations

import io
import math
import os
import threading
import time
from pathlib import Path

from IPython.display import HTML, Image, display
from matplotlib.figure import Figure

from actionbook.runner import UNATTENDED_ENV
from actionbook.runs import read_metrics


def draw_curves(fig, iters: list[dict], epochs: list[dict], title: str = "", chance: float | None = None) -> None:
    """Loss (per logged iteration and per epoch) and accuracy (train, val top-1/top-5, chance) on `fig`."""
    ax_loss, ax_acc = fig.subplots(1, 2)
    if chance is not None:
        ax_acc.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    if iters:
        ax_loss.plot([e["step"] for e in iters], [e["loss"] for e in iters], lw=1, alpha=0.6, label="iteration")
    if epochs:
        ax_loss.plot([e["step"] for e in epochs], [e["train_loss"] for e in epochs], "o-", label="epoch mean")
        x = [e["epoch"] for e in epochs]
        ax_acc.plot(x, [e["train_top1"] for e in epochs], "o-", label="train top-1")
        validated = [e for e in epochs if e.get("val_top1") is not None]  # every `eval_every` epochs
        ax_acc.plot([e["epoch"] for e in validated], [e["val_top1"] for e in validated], "s-", label="val top-1")
        ax_acc.plot([e["epoch"] for e in validated], [e["val_top5"] for e in validated], "^--", label="val top-5")
        ax_acc.set_xticks(x)
        ax_acc.legend(loc="best", fontsize=8)
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    if iters:
        ax_loss.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def curves_figure(run_dir: str | Path, title: str = "", chance: float | None = None):
    """A matplotlib Figure of the run's curves (not registered with pyplot: safe from any thread)."""
    fig = Figure(figsize=(10, 3.6))
    draw_curves(fig, *read_metrics(run_dir), title=title, chance=chance)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LiveView:
    """A progress line and the curves, redrawn from the run's metrics.jsonl by a background thread.

    The line follows every logged iteration; the figure is redrawn at each epoch and at most every `plot_every`
    seconds in between (rendering it costs CPU the training on a two-core machine would otherwise have).
    """

    def __init__(self, run_dir: Path, total_iters: int | None, title: str = "", every: float = 3.0,
                 chance: float | None = None, plot_every: float = 30.0, watched: bool | None = None):
        self.run_dir, self.total, self.title, self.every = Path(run_dir), total_iters, title, every
        self.chance, self.plot_every = chance, plot_every
        self.watched = os.environ.get(UNATTENDED_ENV) != "1" if watched is None else watched
        self.started = time.monotonic()
        self._plotted = (-1, -math.inf)  # (epochs drawn, when)
        self.status = display(HTML("<code>starting...</code>"), display_id=True)
        self.plot = display(HTML(""), display_id=True)
        self._seen = (-1, -1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LiveView:
        if self.watched:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self.watched:
            self._thread.join()
        self.refresh(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.refresh()
            except Exception:  # a display problem must never stop training
                pass

    def refresh(self, final: bool = False) -> None:
        iters, epochs = read_metrics(self.run_dir)
        seen = (len(iters), len(epochs))
        if seen == self._seen and not final:
            return
        self._seen = seen
        elapsed = time.monotonic() - self.started
        if iters:
            last = iters[-1]
            step = last["step"]
            parts = [f"epoch {last['epoch']}", f"step {step}" + (f"/{self.total}" if self.total else ""),
                     f"loss {last['loss']:.3f}", f"lr {last['lr']:.3g}", f"{last['iter_time']:.2f} s/iter",
                     f"elapsed {_clock(elapsed)}"]
            if self.total and step and not final:
                parts.append(f"eta {_clock(elapsed / step * (self.total - step))}")
            validated = [e for e in epochs if e.get("val_top1") is not None]  # epochs between two `eval_every`: none
            if validated:
                parts.append(f"val top-1 {validated[-1]['val_top1']:.1f}%")
            self.status.update(HTML(f"<code>{' · '.join(parts)}</code>"))
        now = time.monotonic()
        due = final or len(epochs) != self._plotted[0] or now - self._plotted[1] >= self.plot_every
        if (iters or epochs) and due:
            self._plotted = (len(epochs), now)
            self.plot.update(Image(data=_png(curves_figure(self.run_dir, self.title, self.chance))))
