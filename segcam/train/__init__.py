"""Training and fine-tuning segcam's segmentation networks (`segcam train`)."""
