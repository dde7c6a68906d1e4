"""Released checkpoints of other codebases -> this project's checkpoint (`actionbook convert`).

One module per source layout (ibm, mmaction2, pyslowfast: PySlowFast's and pytorchvideo's), each a rule that
names, for every tensor of the source, the tensor of a registered model it becomes; `convert.py` applies it,
accounts for every tensor in a `ConversionReport`, and writes the converted file. Files are read as data only.
"""

from actionbook.convert.convert import (
    ORIGIN,
    ConvertedCheckpoint,
    convert_checkpoint,
    load_converted,
    model_for_converted,
    record_source,
    save_converted,
)
from actionbook.convert.protocols import protocol
from actionbook.convert.reading import read_released
from actionbook.convert.report import ConversionReport
from actionbook.convert.sources import SOURCES

__all__ = ["ORIGIN", "SOURCES", "ConversionReport", "ConvertedCheckpoint", "convert_checkpoint", "load_converted",
           "model_for_converted", "protocol", "read_released", "record_source", "save_converted"]
