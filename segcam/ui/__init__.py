"""The desktop app (PySide6).

All Qt code lives in this package and nothing outside it imports Qt, so `segcam run` and
`segcam bench` work without a display. The app only wires the engine's stages and the one
Settings object to widgets; the processing itself is segcam.pipeline's.
"""
