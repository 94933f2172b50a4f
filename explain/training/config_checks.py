"""The checks every `TrainingConfig` passes when it is made: each number of the right kind, finite and in range,
so a NaN or infinite learning rate (or a negative one) never reaches training or a model file."""

from __future__ import annotations

import math

from explain.errors import InvalidValueError

# (field, smallest, largest, smallest allowed itself?) for the numbers of a TrainingConfig; None: no bound
_CONFIG_RANGES = {
    "max_epochs": (1, None, True),
    "learning_rate": (0.0, 1.0, False),
    "batch_size": (1, None, True),
    "warmup_fraction": (0.0, 1.0, True),
    "weight_decay": (0.0, None, True),
    "max_length": (8, None, True),
    "validation_fraction": (0.0, 0.9, True),
    "patience": (0, None, True),
    "max_minutes": (0.0, None, False),
    "freeze_layers": (0, None, True),
}
_WHOLE = {"max_epochs", "batch_size", "max_length", "patience", "freeze_layers"}


_OPTIONS = {"learning_rate": "--lr", "max_epochs": "--epochs", "max_minutes": "--max-minutes"}  # CLI names


def check_config(config) -> None:
    """Refuse (InvalidValueError, one line) a `TrainingConfig` number that is not finite or out of its range."""
    for field_name, (low, high, low_allowed) in _CONFIG_RANGES.items():
        value = getattr(config, field_name)
        name = field_name + (f" ({_OPTIONS[field_name]})" if field_name in _OPTIONS else "")
        if value is None and field_name in ("max_length", "max_minutes"):
            continue
        whole = field_name in _WHOLE
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (whole and not float(value).is_integer()):
            raise InvalidValueError(f"{name} must be {'a whole number' if whole else 'a number'} (got {value!r})")
        if not math.isfinite(value):
            raise InvalidValueError(f"{name} must be a finite number (got {value!r})")
        if value < low or (value == low and not low_allowed) or (high is not None and value > high):
            above = f"above {low:g}" if not low_allowed else f"at least {low:g}"
            raise InvalidValueError(
                f"{name} must be {above}" + (f" and at most {high:g}" if high is not None else "") + f" (got {value!r})"
            )
