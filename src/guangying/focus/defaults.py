"""The focus controller's defaults that the commands show in their help, in a module light enough for
the command line to import at start-up (the controller loads numba): one set of numbers for
``ControllerConfig``, ``guangying focus``, ``focus-live`` and ``live --lidar``."""

LATENCY_S = 0.04  # sensor + motor delay: how far ahead to predict
SENSOR_LATENCY_S = 0.0  # the part of it before a reading is stamped (0: t_s is when measured)
SENSOR_SIGMA_M = 0.015  # TF-Luna: σ 1–1.5 cm; the upper end of the spec
