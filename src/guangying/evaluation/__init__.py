"""Quality metrics for mattes (MAD, MSE, Grad, Conn, dtSSD) and generated footage with exact truth."""

from guangying.evaluation.metrics import conn, dtssd, foreground_band_error, grad, mad, mse, sad

__all__ = ["conn", "dtssd", "foreground_band_error", "grad", "mad", "mse", "sad"]
