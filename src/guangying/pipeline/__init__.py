"""Jobs that string the stages together: batch file-to-file runs and live operation."""
