"""Domain errors: what a person did that the rules refuse, in words they can act on."""


class DomainError(Exception):
    """An action the rules refuse. `messages` are shown to the person as they are."""

    def __init__(self, *messages: str):
        self.messages = [str(m) for m in messages]
        super().__init__("; ".join(self.messages))


class AdmissionRefused(DomainError):
    pass


class TransitionRefused(DomainError):
    pass


class ActionForbidden(DomainError):
    """The actor lacks the permission for the action."""


class ListingRefused(DomainError):
    """A listing write refused; `field_errors` maps form fields to messages."""

    def __init__(self, *messages: str, field_errors: dict[str, list[str]] | None = None):
        self.field_errors = field_errors or {}
        flat = list(messages) + [m for ms in self.field_errors.values() for m in ms]
        super().__init__(*flat)
