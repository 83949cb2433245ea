"""Reading the return out of an upload form (the `file` field), for `POST /api/returns` and
the web app's upload page alike: its clean name and bytes, or why it is refused (400 no file,
413 over KPI_ALERTS_MAX_UPLOAD_MB, 415 none of CSV / XLSX / JSON). Each caller answers in its
own form (JSON, a page)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData, UploadFile

from alerts.api.filetypes import clean_filename, unsupported
from alerts.api.limits import too_large_detail


@dataclass(frozen=True)
class Refused:
    status: int
    detail: str  # for 400 the caller's own words (`no_file`)
    name: str | None = None  # the file's clean name, when there was a file


async def read_return(form: FormData, max_mb: float, no_file: str, need_name: bool = False
                      ) -> tuple[str, bytes] | Refused:
    """`need_name`: an unnamed part is no file (a browser's form with nothing chosen)."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or (need_name and not upload.filename):
        return Refused(400, no_file)
    limit = int(max_mb * 1024 * 1024)
    data = await upload.read(limit + 1)  # the body limit stopped anything much larger already
    name = clean_filename(upload.filename)
    if len(data) > limit:
        return Refused(413, too_large_detail(max_mb), name)
    why = unsupported(name, data)
    return Refused(415, why, name) if why else (name, data)
