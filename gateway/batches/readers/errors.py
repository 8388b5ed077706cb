"""File-level errors of the batch readers, and every error code the readers use.

Two kinds of failure come out of a reader:

- a **record-level** error spoils one record only: the reader yields a `RawRecord` whose `error` is a
  `Problem` with one of the `RECORD_*` codes below, and carries on with the next record;
- a **file-level** error spoils the file: the reader raises `BatchFileError` with one of the `FILE_*`
  codes. Checks that can be made before the first record (a CSV header, every ZIP check on the
  central directory, a bundle's root element or DOCTYPE) raise before anything is yielded; damage
  found later (a bundle that stops being well-formed, a ZIP entry that inflates past its declared
  size) raises once reached, and the records yielded before it stand.

The codes are stable: clients and the batch results depend on them.
"""

from __future__ import annotations

from gateway.documents.problems import Problem
from gateway.errors import DocumentError

__all__ = [
    "FILE_BUNDLE_MALFORMED",
    "FILE_BUNDLE_ROOT",
    "FILE_BUNDLE_UNSAFE",
    "FILE_CSV_HEADER",
    "FILE_ZIP_ENTRY_TYPE",
    "FILE_ZIP_LINK",
    "FILE_ZIP_MALFORMED",
    "FILE_ZIP_NESTED",
    "FILE_ZIP_OVERLAP",
    "FILE_ZIP_RATIO",
    "FILE_ZIP_SIZE_MISMATCH",
    "FILE_ZIP_TOO_LARGE",
    "FILE_ZIP_TOO_MANY_ENTRIES",
    "FILE_ZIP_UNSAFE_NAME",
    "FILE_ZIP_UNSUPPORTED",
    "RECORD_BUNDLE_ENTRY",
    "RECORD_CSV_FIELD_COUNT",
    "RECORD_CSV_FIELD_TOO_LONG",
    "RECORD_CSV_QUOTE",
    "RECORD_CSV_UNTERMINATED_QUOTE",
    "RECORD_ENCODING",
    "RECORD_ENTRY_TOO_LARGE",
    "RECORD_LINE_TOO_LONG",
    "RECORD_NOT_OBJECT",
    "BatchFileError",
]

# Record-level codes (a `Problem` on one `RawRecord`).
RECORD_LINE_TOO_LONG = "batch.line_too_long"  # a JSON Lines line or CSV record over max_line_bytes
RECORD_ENCODING = "batch.encoding"  # a line or field that is not valid UTF-8
RECORD_NOT_OBJECT = "batch.not_object"  # a JSON Lines line that is not one JSON object
RECORD_CSV_FIELD_COUNT = "batch.csv.field_count"  # more or fewer fields than the header
RECORD_CSV_FIELD_TOO_LONG = "batch.csv.field_too_long"  # one field over max_field_bytes
RECORD_CSV_QUOTE = "batch.csv.quote"  # text after a closing quote, before the next comma
RECORD_CSV_UNTERMINATED_QUOTE = "batch.csv.unterminated_quote"  # a quoted field still open at end of file
RECORD_BUNDLE_ENTRY = "batch.bundle.entry"  # a bundle child that is not a Document wrapping one element
RECORD_ENTRY_TOO_LARGE = "batch.entry_too_large"  # a bundle Document over max_entry_bytes

# File-level codes (`BatchFileError.code`).
FILE_CSV_HEADER = "batch.csv.header"  # no header, or missing, unknown or duplicate columns
FILE_BUNDLE_UNSAFE = "batch.bundle.unsafe"  # a DOCTYPE or entity declaration
FILE_BUNDLE_ROOT = "batch.bundle.root"  # the root element is not {urn:hk:tsw:bundle:1}Bundle
FILE_BUNDLE_MALFORMED = "batch.bundle.malformed"  # not well-formed XML
FILE_ZIP_MALFORMED = "batch.zip.malformed"  # not a ZIP, or a corrupt one (headers, CRC, truncation)
FILE_ZIP_UNSAFE_NAME = "batch.zip.unsafe_name"  # absolute, `..`, drive letter, backslash, NUL (zip slip)
FILE_ZIP_LINK = "batch.zip.link"  # a symbolic link or other special file
FILE_ZIP_UNSUPPORTED = "batch.zip.unsupported"  # encryption, or a method other than stored/deflated
FILE_ZIP_NESTED = "batch.zip.nested"  # an archive inside the archive (by extension or magic bytes)
FILE_ZIP_ENTRY_TYPE = "batch.zip.entry_type"  # an entry that is neither .xml nor .json
FILE_ZIP_TOO_MANY_ENTRIES = "batch.zip.too_many_entries"  # over max_entries
FILE_ZIP_TOO_LARGE = "batch.zip.too_large"  # declared entry or total size over the limits
FILE_ZIP_RATIO = "batch.zip.ratio"  # declared compression ratio over max_ratio
FILE_ZIP_OVERLAP = "batch.zip.overlap"  # entries sharing compressed data (a non-recursive bomb)
FILE_ZIP_SIZE_MISMATCH = "batch.zip.size_mismatch"  # an entry inflates past its declared size


class BatchFileError(DocumentError):
    """The uploaded batch file as a whole cannot be read; `code` is one of the `FILE_*` codes.

    Like `UnsafeDocument`, it carries `problems` (one `Problem` at path ``/``) so the HTTP layer can
    answer it as problem+json without knowing the readers.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        self.problems = [Problem(code=code, path="/", message=message)]
        super().__init__(message)
