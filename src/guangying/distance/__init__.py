"""Distance sources: LiDAR rangefinders, aligned depth maps, faces, manual marks."""
