"""Camera tracking: the camera's pose and focal length per frame, from markers, features, FreeD or
an iPhone's ARKit poses, read and written as CSV / JSON / Nuke ``.chan``."""

from guangying.tracking.camera_track import CameraTrackRow, read_camera_track, write_camera_track

__all__ = ["CameraTrackRow", "read_camera_track", "write_camera_track"]
