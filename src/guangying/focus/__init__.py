"""Focus control: subject tracking, diopter-space filtering, focus pulls, FreeD/motor output."""
