"""Camera analytics: traffic counting and congestion, camera health and forest smoke, on
frames published over MQTT or read from URLs.

``worker`` (one :class:`~analytics.cameras.worker.CameraWorker` per camera: frames in, lines,
rule transitions, snapshots and state out) uses ``frames`` (decoding), ``traffic``,
``health``, ``smoke``, ``alarms`` (conditions → transitions with hysteresis) and ``overlay``;
``source`` reads URL cameras, ``snapshots`` keeps pictures on disk, ``config`` is the
``cameras`` configuration section.
"""
