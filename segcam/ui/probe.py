"""Whether Qt's platform plugin loads here: `segcam doctor` runs this in a child process, since a
broken plugin aborts the process that tries it (see doctor.qt_probe_command)."""

from __future__ import annotations

import sys


def main() -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    print(app.platformName())
    return 0


if __name__ == "__main__":
    sys.exit(main())
