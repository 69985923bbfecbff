"""*Enroll a CP…*: the operator's one-time enrollment token, from the control center.

A secured Central registers a CP id only with a token the operator issued for it (docs/
security.md, "Enrollment"); a revoked CP comes back only with one. This dialog asks for the
id and how long the token stays valid, has Central issue it (stored hashed, audited), and
shows it once with the monitor's command line, ready to copy: the same as
``evc-admin cp enroll ID``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)

#: (label, seconds) offered for a token's validity
VALIDITY = (("1 hour", 3600.0), ("24 hours", 86400.0), ("7 days", 7 * 86400.0))

Issue = Callable[[str, float], tuple[str, str]]  # (cp id, seconds) -> (token, expires_at)


class EnrollDialog(QDialog):
    answered = Signal(str, object)  # cp id, (token, expires_at) or the refusal's text

    def __init__(self, issue: Issue, cp_id: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.answered.connect(self._show)
        self.setWindowTitle("Enroll a charging point")
        self._issue = issue
        self.cp_id = QLineEdit(cp_id, self)
        self.cp_id.setPlaceholderText("e.g. CP-09")
        self.validity = QComboBox(self)
        for label, seconds in VALIDITY:
            self.validity.addItem(label, seconds)
        self.validity.setCurrentIndex(1)
        self.token = QLineEdit(self)
        self.token.setReadOnly(True)
        self.token.setPlaceholderText("issued when you press Issue token")
        self.command = QLabel(self)
        self.command.setWordWrap(True)
        self.command.setTextInteractionFlags(
            self.command.textInteractionFlags().TextSelectableByMouse
        )
        self.error = QLabel(self)
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Charging point id", self.cp_id)
        form.addRow("Valid for", self.validity)
        form.addRow("Token (shown once)", self.token)
        self.issue_button = QPushButton("Issue token", self)
        self.issue_button.setDefault(True)
        self.issue_button.clicked.connect(self.issue)
        self.copy_button = QPushButton("Copy", self)
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(self._copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.addButton(self.issue_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        intro = QLabel(
            "A new charging point, or a revoked one you re-admit, registers only with a "
            "one-time token issued for its id. Give the token to its monitor "
            "(--enroll-token); it is used up by the first registration.",
            self,
        )
        intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.command)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(520, self.sizeHint().height())

    def issue(self) -> bool:
        """Ask Central for the token; True when asked. Central writes it on its database
        writer: the answer comes back from a helper thread (``answered``), so a busy or
        unreachable database never freezes the window."""
        cp_id = self.cp_id.text().strip()
        if not cp_id:
            self.error.setText("Enter the charging point's id.")
            return False
        self.issue_button.setEnabled(False)
        self.cp_id.setReadOnly(True)
        self.error.clear()
        self.token.setPlaceholderText("issuing…")
        seconds = float(self.validity.currentData())
        threading.Thread(
            target=self._ask, args=(cp_id, seconds), name="enroll-token", daemon=True
        ).start()
        return True

    def _ask(self, cp_id: str, seconds: float) -> None:
        """On the helper thread: the answer goes to the GUI thread by a queued signal."""
        answer: tuple[str, str] | str
        try:
            answer = self._issue(cp_id, seconds)
        except Exception as exc:  # the registry's reason, in words
            log.info("enrollment token for %s refused: %s", cp_id, exc)
            answer = str(exc) or type(exc).__name__
        with contextlib.suppress(RuntimeError):  # the dialog was closed meanwhile
            self.answered.emit(cp_id, answer)

    def _show(self, cp_id: str, answer: tuple[str, str] | str) -> None:
        self.token.setPlaceholderText("issued when you press Issue token")
        if isinstance(answer, str):
            self.error.setText(answer)
            self.issue_button.setEnabled(True)
            self.cp_id.setReadOnly(False)
            return
        token, expires_at = answer
        self.token.setText(token)
        self.command.setText(
            f"Valid once, until {expires_at.replace('T', ' ')[:16]} UTC. On the CP's host:\n"
            f"EV_CP_M … --cp-id {cp_id} --enroll-token {token}"
        )
        self.copy_button.setEnabled(True)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.token.text())
