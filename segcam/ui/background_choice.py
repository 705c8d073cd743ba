"""Choosing an effect and its background: the gallery's pictures, a background video, dropped files.

Files are checked off the GUI thread by the session (each picture is decoded once, then shared
by the effect, the gallery and the thumbnails); the answer comes back as backgrounds_checked.
"""

from __future__ import annotations

from pathlib import Path

from segcam import effects
from segcam import settings as settings_store


class BackgroundChoosing:
    """Mixed into MainWindow: the effect and background commands. The window provides settings,
    change(), _refresh(), controller, gallery, defaults, message_bar, ask_backgrounds() and
    ask_background_video()."""

    def choose_effect(self, name: str) -> None:
        """Use an effect; one that needs a file not chosen yet asks for it first (the old effect stays meanwhile)."""
        needs = effects.get(name).needs
        if needs and not self.settings.get(needs):
            kind = settings_store.facts(needs).get("kind")
            first = next(iter(self.gallery.paths()), "") if kind == "image" else ""
            if not first:
                self._refresh()
                self.ask_backgrounds() if kind == "image" else self.ask_background_video()
                return
            self.change(effect=name, **{needs: first})
        else:
            self.change(effect=name)

    def add_backgrounds(self, paths: list[str]) -> None:
        """Add pictures to the gallery and use the last one; what the file dialog and a drop do.

        The files are checked off the GUI thread (see _backgrounds_checked). A file that is not
        a usable picture is named in an inline message and changes nothing. A dropped video
        becomes the background video.
        """
        self.controller.check_backgrounds(paths)

    def set_background_video(self, path: str) -> None:
        """Use a video as the background; a file that does not play gives a message and changes nothing."""
        self.controller.check_backgrounds([path])

    def _backgrounds_checked(self, pictures: list[str], videos: list[str], problems: list[str]) -> None:
        if problems:
            self.message_bar.show_message(" ".join(problems), "error", key="backgrounds")
        if videos:
            self.change(effect="video", background_video=videos[-1])
        if pictures:
            known = {str(p) for p in self.defaults} | set(self.settings.app.user_backgrounds)
            user = self.settings.app.user_backgrounds + [p for p in dict.fromkeys(pictures) if p not in known]
            self.change(user_backgrounds=user, effect="image", background=pictures[-1])
            if not problems:
                names = ", ".join(Path(p).name for p in pictures)
                self.message_bar.show_message(f"Added {names} to your backgrounds.", "info", key="backgrounds")

    def remove_background(self, path: str) -> None:
        user = [p for p in self.settings.app.user_backgrounds if p != path]
        if self.settings.effect.background == path:
            fallback = str(self.defaults[0]) if self.defaults else ""
            effect = self.settings.effect.name if fallback or self.settings.effect.name != "image" else "blur"
            self.change(user_backgrounds=user, background=fallback, effect=effect)
        else:
            self.change(user_backgrounds=user)

    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.add_backgrounds(paths)
