"""Streaming readers for batch upload files: JSON Lines, CSV, XML bundles and ZIP archives.

`POST /v1/batches` spools an upload to disk, picks its format with `sniff_kind`, and reads it with
`open_reader`, one `RawRecord` at a time: never the whole file, at most one record and small buffers
in memory. A record the reader cannot make sense of is yielded with a located `Problem` (the rest of
the file carries on); a file that cannot be read at all raises `BatchFileError`. Pure code: no
database, no HTTP. One module per format (`jsonl`, `csv_rows`, `bundle`, `archive`); the error
codes are listed in `errors`.
"""

from gateway.batches.readers.bundle import BUNDLE_NAMESPACE
from gateway.batches.readers.errors import BatchFileError
from gateway.batches.readers.opening import RecordStream, Source, open_reader
from gateway.batches.readers.records import (
    BATCH_KINDS,
    MEDIA_CSV,
    MEDIA_JSON,
    MEDIA_XML,
    BatchKind,
    RawRecord,
    ReaderLimits,
)
from gateway.batches.readers.sniff import sniff_kind

__all__ = [
    "BATCH_KINDS",
    "BUNDLE_NAMESPACE",
    "MEDIA_CSV",
    "MEDIA_JSON",
    "MEDIA_XML",
    "BatchFileError",
    "BatchKind",
    "RawRecord",
    "ReaderLimits",
    "RecordStream",
    "Source",
    "open_reader",
    "sniff_kind",
]
