"""What a conversion did with every tensor: nothing is silently missing or silently left out."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ConversionReport:
    model: str  # the registered model the file is for
    source: str  # ibm, mmaction2, pyslowfast, pytorchvideo
    file: str
    sha256: str
    layout: str  # the layout that was recognised ("IBM DataParallel state_dict", ...)
    same_name: list[str] = field(default_factory=list)  # model keys taken under the source's own name
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (source key, model key)
    reshaped: list[tuple[str, str, str]] = field(default_factory=list)  # (source keys, model key, how)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (source key, why it has no place in the model)
    initialised: list[tuple[str, str]] = field(default_factory=list)  # (model key, why it keeps its initial value)
    source_classes: int | None = None
    num_classes: int | None = None

    @property
    def classifier_replaced(self) -> bool:
        return self.source_classes is not None and self.source_classes != self.num_classes

    def summary(self) -> str:
        """A few lines for the command line and the notebook."""
        loaded = len(self.same_name) + len(self.renamed) + len(self.reshaped)
        lines = [f"{self.model} from {self.source} ({self.layout}), {self.file} sha256 {self.sha256[:12]}...",
                 f"  {loaded} model tensors loaded: {len(self.same_name)} under the same name, {len(self.renamed)} "
                 f"renamed, {len(self.reshaped)} reshaped"]
        if self.reshaped:
            sources, key, how = self.reshaped[0]
            lines.append(f"  reshaped, e.g. {sources} -> {key}: {how}")
        if self.renamed:
            lines.append(f"  renamed, e.g. {self.renamed[0][0]} -> {self.renamed[0][1]}")
        for what, items in (("dropped from the checkpoint", self.dropped),
                            ("kept at initialisation", self.initialised)):
            reasons: dict[str, list[str]] = {}
            for key, why in items:
                reasons.setdefault(why, []).append(key)
            for why, keys in reasons.items():
                lines.append(f"  {what}: {len(keys)} ({why}): {_listing(keys)}")
        if self.classifier_replaced:
            lines.append(f"  classifier replaced: the checkpoint has {self.source_classes} classes, the model "
                         f"{self.num_classes}; its accuracy says nothing about the released classifier")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {**asdict(self), "classifier_replaced": self.classifier_replaced}


def _listing(keys: list[str], limit: int = 4) -> str:
    shown = ", ".join(keys[:limit])
    return shown if len(keys) <= limit else f"{shown}, ... ({len(keys) - limit} more)"
