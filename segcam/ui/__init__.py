"""The desktop app (PySide6).

All Qt code lives in this package and nothing outside it imports Qt (.importlinter checks it),
so `segcam run` and `segcam bench` work without a display. The app shows the one Settings
object in widgets and drives a segcam.session.Session through controller.py, the same session
`segcam run` uses; the processing itself is segcam.pipeline's.
"""
