"""Footage in and out: video files, image sequences and single images (PyAV / OpenCV)."""
