"""segcam: person segmentation for your webcam, sent to meetings as a virtual camera."""

__version__ = "0.1.0"
