"""Neural matting: Robust Video Matting engine, fast person segmentation, hybrid mode."""
