"""*Enroll a CP…*: the operator's one-time enrollment token, from the control center.

A secured Central registers a CP id only with a token the operator issued for it (docs/
security.md, "Enrollment"); a revoked CP comes back only with one. This dialog asks for the
id and how long the token stays valid, has Central issue it (stored hashed, audited), and
shows it once with the monitor's command line, ready to copy: the same as
``evc-admin cp enroll ID``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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
    def __init__(self, issue: Issue, cp_id: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
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
        cp_id = self.cp_id.text().strip()
        if not cp_id:
            self.error.setText("Enter the charging point's id.")
            return False
        try:
            token, expires_at = self._issue(cp_id, float(self.validity.currentData()))
        except Exception as exc:  # the registry's reason, in words
            log.info("enrollment token for %s refused: %s", cp_id, exc)
            self.error.setText(str(exc) or type(exc).__name__)
            return False
        self.error.clear()
        self.token.setText(token)
        self.command.setText(
            f"Valid once, until {expires_at.replace('T', ' ')[:16]} UTC. On the CP's host:\n"
            f"EV_CP_M … --cp-id {cp_id} --enroll-token {token}"
        )
        self.copy_button.setEnabled(True)
        self.issue_button.setEnabled(False)
        self.cp_id.setReadOnly(True)
        return True

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.token.text())
