"""Uploads in the app: the size limit the server and crnnaudit agree on, and the daily erasure
of uploads past the retention period (storing an upload: :mod:`crnnaudit.review.uploads`)."""

from __future__ import annotations

import streamlit as st

from ..errors import CrnnauditError
from ..limits import max_upload_mb


def upload_limit_mb() -> int:
    """The upload limit in force (see :func:`crnnaudit.limits.max_upload_mb`)."""
    return max_upload_mb()


def server_limit_mismatch() -> str | None:
    """A warning when the Streamlit server was started with another upload limit."""
    server = int(st.get_option("server.maxUploadSize"))
    if server != upload_limit_mb():
        return (f"The server accepts uploads up to {server} MB but CRNNAUDIT_MAX_UPLOAD_MB is "
                f"{upload_limit_mb()} MB: start the app with `make app` (or `streamlit run serve.py "
                f"--server.maxUploadSize {upload_limit_mb()}`) so that the two agree.")
    return None


@st.cache_resource(ttl=24 * 3600, show_spinner=False)
def daily_housekeeping(home_folder: str) -> int:
    """Once a day per server (and data folder): erase uploads past the retention period
    (CRNNAUDIT_RETENTION_DAYS), each erasure a logged row. Returns how many went."""
    del home_folder  # the cache key
    from ..evidence.retention import apply_retention
    try:
        return len(apply_retention())
    except CrnnauditError:
        return 0  # a bad setting is reported by `crnnaudit housekeeping`; the app stays up
