"""An upload handler for archive scans that keeps the file in memory and refuses it above the size limit.

Django's default handlers keep an upload in memory only up to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB) and
spill anything larger to a temporary file on disk — a plaintext copy of a scan of someone's ID card, which
the archive must never write (R2.4). The archive's upload view installs this handler alone
(``request.upload_handlers``), so the file is received into memory up to ``SIDMS_ARCHIVE_MAX_BYTES`` and
skipped beyond it (``too_large`` is set; the rest of the body is read and discarded, never kept).
"""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile


class InMemoryLimitedUploadHandler(FileUploadHandler):
    def __init__(self, request: Any = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.too_large = False
        self.received = 0
        self.buffer: io.BytesIO | None = None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.buffer = io.BytesIO()
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            self.buffer = None
            raise SkipFile()
        assert self.buffer is not None
        self.buffer.write(raw_data)
        return None  # consumed here: no other handler sees the data

    def file_complete(self, file_size: int) -> InMemoryUploadedFile | None:
        if self.buffer is None:
            return None
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
