"""Quality metrics for mattes (MAD, MSE, Grad, Conn, dtSSD) used by tests and benchmarks."""
