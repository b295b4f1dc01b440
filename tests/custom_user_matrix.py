"""The invalidation matrix on a swapped user model (``AUTH_USER_MODEL = "customuser.Member"``).

Not collected by the main suite: ``tests/test_custom_user_model.py`` runs this module in
a pytest process of its own under ``tests.customuser_settings``. The user model is
registered through ``get_user_model()``; each scenario caches the user through
``get_object``/``get_objects``, a ``cached`` function and ``get_or_set`` that depend on
the user model (by class or by its setting), writes as a project would (saves, queryset
and bulk writes through the user manager, deletes, group membership from either side),
then reads again from another thread and from the same one.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from django_distcache.reads.functions import CachedFunction
from django_distcache.registry import find_config
from tests.test_invalidation_matrix import Case, read_cached, read_database
from tests.threads import run_in_thread

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
SCENARIOS: dict[str, Callable[[], Case]] = {}


def scenario(setup: Callable[[], Case]) -> Callable[[], Case]:
    SCENARIOS[setup.__name__] = setup
    return setup


def nicknames() -> list[str]:
    return sorted(User.objects.values_list("nickname", flat=True))


def groups_of(user) -> Callable[[], list[str]]:
    return lambda: sorted(user.groups.values_list("name", flat=True))


def new_user(name: str = "u") -> object:
    return User.objects.create_user(username=name, nickname="old")


@scenario
def save():
    user = new_user()

    def write():
        user.nickname = "new"
        user.save()

    return Case(write, rows=[(User, user.pk)], query=nicknames, depends_on=(User,))


@scenario
def save_update_fields_by_the_setting():
    user = new_user()

    def write():
        user.nickname = "new"
        user.save(update_fields=["nickname"])

    return Case(
        write,
        rows=[(User, user.pk)],
        query=nicknames,
        depends_on=(settings.AUTH_USER_MODEL,),
    )


@scenario
def set_password():
    user = new_user()

    def write():
        user.set_password("another secret")
        user.save()

    return Case(
        write,
        rows=[(User, user.pk)],
        query=lambda: sorted(User.objects.values_list("password", flat=True)),
        depends_on=(User,),
    )


@scenario
def create_replaces_a_cached_miss():
    pk = new_user("first").pk + 1000
    return Case(
        lambda: User.objects.create_user(pk=pk, username="created", nickname="new"),
        rows=[(User, pk)],
        query=nicknames,
        depends_on=(settings.AUTH_USER_MODEL,),
    )


@scenario
def queryset_update_through_the_user_manager():
    user = new_user()
    return Case(
        lambda: User.objects.filter(pk=user.pk).update(nickname="new"),
        rows=[(User, user.pk)],
        query=nicknames,
        depends_on=(User,),
    )


@scenario
def bulk_update():
    user = new_user()

    def write():
        user.nickname = "new"
        User.objects.bulk_update([user], ["nickname"])

    return Case(write, rows=[(User, user.pk)], query=nicknames, depends_on=(User,))


@scenario
def delete():
    user = new_user()
    return Case(user.delete, rows=[(User, user.pk)], query=nicknames, depends_on=(User,))


@scenario
def queryset_delete():
    user = new_user()
    return Case(
        lambda: User.objects.filter(username="u").delete(),
        rows=[(User, user.pk)],
        query=nicknames,
        depends_on=(settings.AUTH_USER_MODEL,),
    )


@scenario
def groups_add():
    user, group = new_user(), Group.objects.create(name="g")
    return Case(lambda: user.groups.add(group), query=groups_of(user), depends_on=(User,))


@scenario
def groups_remove_from_the_group_side():
    user, group = new_user(), Group.objects.create(name="g")
    user.groups.add(group)
    return Case(
        lambda: group.user_set.remove(user),
        query=groups_of(user),
        depends_on=(settings.AUTH_USER_MODEL,),
    )


@scenario
def groups_clear():
    user = new_user()
    user.groups.add(Group.objects.create(name="g1"), Group.objects.create(name="g2"))
    return Case(user.groups.clear, query=groups_of(user), depends_on=(User,))


@scenario
def groups_set():
    user = new_user()
    first, second = Group.objects.create(name="g1"), Group.objects.create(name="g2")
    user.groups.add(first)
    return Case(lambda: user.groups.set([second]), query=groups_of(user), depends_on=(User,))


@scenario
def group_deleted_takes_its_memberships():
    user, group = new_user(), Group.objects.create(name="g")
    user.groups.add(group)
    return Case(group.delete, query=groups_of(user), depends_on=(User,))


def test_the_user_model_is_swapped_and_registered():
    assert settings.AUTH_USER_MODEL == "customuser.Member"
    assert User._meta.label == "customuser.Member"
    assert find_config(User) is not None


@pytest.mark.parametrize("in_atomic", [False, True], ids=["autocommit", "atomic"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_write_to_the_swapped_user_leaves_no_read_stale(name, in_atomic):
    case = SCENARIOS[name]()
    function = None
    if case.query is not None:
        function = CachedFunction(case.query, None, case.depends_on, ())
    before = read_database(case)
    assert read_cached(case, function) == before
    assert read_cached(case, function) == before  # now from the cache
    if in_atomic:
        with transaction.atomic():
            case.write()
    else:
        case.write()
    after = read_database(case)
    assert after != before, "the scenario's write changed nothing it reads"
    assert run_in_thread(read_cached, case, function) == after
    assert read_cached(case, function) == after
