"""Who may call which records function: the one place permissions are checked.

Every records function that reads or changes the records on a person's behalf takes `by: Actor`
and is marked `@requires("permission")`; the mark checks `by` before the function runs (a refusal
is `PermissionDenied`, exit status 3 in the CLI) and enters the function in `REQUIRED`, the table
docs/records.md ("Who acts") describes. The commands never check permissions themselves. What each
role may do is `users.PERMISSIONS`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

#: "module.function" -> the permission it needs, or {value of its `chosen_by` argument: permission}.
REQUIRED: dict[str, str | Mapping[str, str]] = {}


def requires(permission: str | Mapping[str, str], *, chosen_by: str | None = None) -> Callable[[F], F]:
    """Mark a records function with the permission its `by` needs.

    `permission` is one permission, or (with `chosen_by`, the name of an argument) a table from
    that argument's value to the permission, e.g. the state an incident moves to. A value the table
    does not name is left to the function to refuse (as a bad step, not a permission).
    """
    if isinstance(permission, Mapping) != (chosen_by is not None):
        raise TypeError("a table of permissions needs chosen_by, and chosen_by needs a table")

    def mark(function: F) -> F:
        parameters = list(inspect.signature(function).parameters)
        if "by" not in parameters:
            raise TypeError(f"{function.__qualname__} has no `by` argument to check")
        by_index = parameters.index("by")
        chosen_index = parameters.index(chosen_by) if chosen_by is not None else -1

        def argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
            return args[index] if index < len(args) else kwargs.get(name)

        @wraps(function)
        def checked(*args: Any, **kwargs: Any) -> Any:
            # imported here: users.py marks its own functions with this module's `requires`
            from scrapeguard.records.users import require

            by = argument(args, kwargs, by_index, "by")
            if isinstance(permission, str):
                require(by, permission)
            else:
                assert chosen_by is not None
                needed = permission.get(argument(args, kwargs, chosen_index, chosen_by))
                if needed is not None:
                    require(by, needed)
            return function(*args, **kwargs)

        REQUIRED[f"{function.__module__}.{function.__qualname__}"] = permission
        return checked  # type: ignore[return-value]

    return mark
