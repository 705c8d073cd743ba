"""Segmentation networks: the registry, the MediaPipe port and weight handling."""
