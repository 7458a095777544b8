"""Frames from a URL OpenCV opens (``rtsp://…``, ``http://…`` MJPEG, a video file), for the
cameras whose ``source`` is not ``mqtt``.

``cv2.VideoCapture`` blocks, so each source runs it on a thread of its own (a capture must
stay on one thread; the default executor would also be too small for many cameras). A
source that cannot be opened, or stops giving frames (a stream that drops, the end of a
file), is released and reopened after a back-off doubling from 1 s up to
``reconnect_max_s``; ``failures`` and ``reconnects`` count what happened. The frames stop
only when the consumer stops iterating — meanwhile the worker's ``tick`` reports the
camera offline. Frames are delivered at most ``fps`` times a second (a file is replayed in
real time and starts again at its end).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from analytics.cameras.frames import Image
from ioc.clock import now_ms

TIMEOUT_MS = 5000  # opening and reading, for network streams


class CameraSource:
    def __init__(self, url: str, fps: float, reconnect_max_s: float = 30.0) -> None:
        self.url = url
        self._period = 1.0 / fps
        self._reconnect_max_s = reconnect_max_s
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="camera-source")
        self.frames_read = 0
        self.failures = 0  # opening failed
        self.reconnects = 0  # the source stopped giving frames and was reopened

    async def frames(self) -> AsyncIterator[tuple[Image, int]]:
        """(BGR picture, receive time in UTC ms), forever."""
        loop = asyncio.get_running_loop()
        backoff = min(1.0, self._reconnect_max_s)
        while True:
            capture = await loop.run_in_executor(self._thread, _open, self.url)
            if capture is None:
                self.failures += 1
            else:
                try:
                    due = time.monotonic()
                    while True:
                        ok, image = await loop.run_in_executor(self._thread, capture.read)
                        if not ok or image is None:
                            break
                        backoff = min(1.0, self._reconnect_max_s)
                        self.frames_read += 1
                        yield np.asarray(image, np.uint8), now_ms()
                        due = max(due + self._period, time.monotonic())
                        await asyncio.sleep(due - time.monotonic())
                finally:
                    await loop.run_in_executor(self._thread, capture.release)
                self.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._reconnect_max_s)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


def _open(url: str) -> cv2.VideoCapture | None:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        TIMEOUT_MS,
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        TIMEOUT_MS,
    ]
    capture = cv2.VideoCapture(url, cv2.CAP_ANY, params)
    if capture.isOpened():
        return capture
    capture.release()
    return None
