"""The one place permissions are checked: every records function acting for a person is marked,
and the mark refuses before anything is written."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from sqlalchemy import func, select

import scrapeguard.records
from scrapeguard.records.db import Database
from scrapeguard.records.errors import PermissionDenied
from scrapeguard.records.exposure import import_exposure, import_member_directory
from scrapeguard.records.models import ExposureRecord, MemberRecord
from scrapeguard.records.permissions import REQUIRED, requires
from scrapeguard.records.users import Actor

from .helpers import exposure  # type: ignore[import-not-found]

VIEWER = Actor("vic", "viewer")
ANALYST = Actor("ann", "analyst")
#: Adding the very first user needs no one signed in (`by` is None): users.add_user checks the rest.
UNMARKED_BY_DESIGN = {"scrapeguard.records.users.add_user"}


def acting_functions() -> dict[str, Any]:
    """Every public function of the records package that takes `by: Actor`."""
    found = {}
    for info in pkgutil.iter_modules(scrapeguard.records.__path__):
        module = importlib.import_module(f"scrapeguard.records.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            by = inspect.signature(function).parameters.get("by")
            if by is not None and "Actor" in str(by.annotation):
                found[f"{module.__name__}.{name}"] = function
    return found


def test_every_function_acting_for_a_person_is_marked_with_its_permission() -> None:
    acting = acting_functions()
    assert len(acting) > 30  # the walk finds them (incidents, notices, cases, users, imports...)
    assert sorted(set(acting) - set(REQUIRED) - UNMARKED_BY_DESIGN) == []


def test_imports_into_the_exposure_ledger_are_refused_before_anything_is_written(db: Database) -> None:
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(exposure\.import\)"):
        import_member_directory(s, VIEWER, [{"member_id": "1", "country": "DE"}])
    with db.session() as s, pytest.raises(PermissionDenied, match=r"\(exposure\.import\)"):
        import_exposure(s, VIEWER, exposure("ip:p-aaaa", [1, 2]), "exposure.json")
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(MemberRecord)).scalar_one() == 0
        assert s.execute(select(func.count()).select_from(ExposureRecord)).scalar_one() == 0
    with db.session() as s:
        assert import_member_directory(s, ANALYST, [{"member_id": "1", "country": "DE"}]) == 1
        assert import_exposure(s, ANALYST, exposure("ip:p-aaaa", [1, 2]), "exposure.json") == 2


def test_a_table_of_permissions_checks_the_one_its_argument_chooses() -> None:
    calls: list[str] = []

    @requires({"contained": "incident.contain", "closed": "incident.close"}, chosen_by="to_state")
    def move(session: object, by: Actor, to_state: str) -> None:
        calls.append(to_state)

    move(None, ANALYST, "contained")
    move(None, ANALYST, to_state="elsewhere")  # not in the table: the function refuses bad steps itself
    with pytest.raises(PermissionDenied, match=r"\(incident\.close\)"):
        move(None, ANALYST, to_state="closed")
    with pytest.raises(PermissionDenied, match=r"\(incident\.contain\)"):
        move(None, by=VIEWER, to_state="contained")
    assert calls == ["contained", "elsewhere"]


def test_a_mark_needs_a_by_argument() -> None:
    with pytest.raises(TypeError, match="no `by`"):
        requires("read")(lambda session, actor: None)
