"""The one exception tree of crnnaudit.

Every failure a user can cause (a bad file, a model crnnaudit cannot take, a wrong
parameter) raises a subclass of :class:`CrnnauditError` whose message names the input and
says what was wrong and what to do. Callers (the app, the command line) catch the base class
and show the message; nothing is lost.

    CrnnauditError
    ├── CardError            model card missing fields, wrong types, unknown values
    ├── ModelError           model file unreadable or of a kind crnnaudit cannot take
    │   ├── UnsafeModelError     needs unsafe deserialisation (Lambda, custom code)
    │   ├── UnsupportedModelError  no time axis, no per-frame part, several inputs/outputs
    │   └── RegistryError        a ``models:/`` URI that does not resolve (unknown name or alias,
    │                            a registry that does not answer, no Keras file, files changed)
    ├── VideoError           video unreadable, empty, corrupt, truncated, too short
    ├── ExplanationError     bad method, target, window or parameter; non-finite values
    │   └── Cancelled            the user cancelled long work
    ├── ReportError          report cannot be built, read or verified
    ├── ReviewError          a review was asked to show what it cannot (a window, frame, method or
    │                        class that is not there; an action for which nothing is on screen)
    ├── AuditLogError        the audit log cannot be written or read
    ├── SigningKeyError      the installation's signing key is missing, unreadable or not Ed25519
    └── AccessError          sign-in failed, or the account's role does not allow the action
"""

from __future__ import annotations


class CrnnauditError(Exception):
    """Base class of every error crnnaudit raises on purpose."""


class CardError(CrnnauditError, ValueError):
    """A model card is missing, malformed or inconsistent with the model."""


class ModelError(CrnnauditError):
    """A model file cannot be read or used."""


class UnsafeModelError(ModelError):
    """The model needs unsafe deserialisation (e.g. a ``Lambda`` layer) and is refused."""


class UnsupportedModelError(ModelError):
    """The model is readable but not a per-frame CNN + temporal model crnnaudit can take."""


class RegistryError(ModelError):
    """A model named in a registry (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``) that cannot be used."""


class VideoError(CrnnauditError):
    """A video cannot be opened, probed or decoded."""


class ExplanationError(CrnnauditError, ValueError):
    """An explanation was asked for with a bad method, target, window or parameter."""


class Cancelled(ExplanationError):
    """Long work was cancelled by the caller."""


class ReportError(CrnnauditError):
    """A report cannot be built, read or verified."""


class ReviewError(CrnnauditError, ValueError):
    """A review was asked for a transition its state does not allow (the message names the
    value and what is on screen); the review is left as it was."""


class AuditLogError(CrnnauditError):
    """The audit log cannot be written, read or verified."""


class SigningKeyError(CrnnauditError):
    """The installation's signing key is missing, unreadable or of the wrong kind."""


class AccessError(CrnnauditError):
    """Sign-in failed, or the signed-in account's role does not allow the action."""
