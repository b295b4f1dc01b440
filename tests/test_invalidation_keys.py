"""One key per row however its primary key is spelled: reads and every invalidation path."""

import uuid
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import django_distcache
from django_distcache import keys
from django_distcache.invalidation.plans import plan_for
from django_distcache.reads.objects import _normalize_pk
from django_distcache.registry import get_config
from django_distcache.writebehind.buffer import buffer_keys
from tests.shapes.models import Code, Place, Restaurant, Ticket
from tests.testapp.models import Document, Product

quick = settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])


def every_key(model, pk):
    """The key each path computes for row ``pk``: read, invalidation, and the row's
    write-behind buffer record and flag (read with a hit)."""
    found = {
        "read": get_config(model).object_base(pk),
        "module": keys.object_base(model, pk),
        "invalidate": next(iter(plan_for(model).entries([pk]) & {keys.object_base(model, pk)})),
    }
    if get_config(model).write_behind:
        bkeys, key_pk = buffer_keys(model), _normalize_pk(model, pk)
        found["buffer"] = bkeys.record(key_pk)
        found["flag"] = bkeys.flag(key_pk)
    return found


def int_spellings(n):
    return [n, str(n), f" {n}", float(n), Decimal(n), Decimal(f"{n}.0")]


def uuid_spellings(value):
    return [value, str(value), value.hex, str(value).upper(), value.urn, f"{{{value}}}"]


@quick
@given(st.integers(min_value=-(2**53), max_value=2**53))
def test_integer_keys_are_one_key_however_spelled(n):
    spelled = [every_key(Product, pk) for pk in int_spellings(n)]
    assert all(s == spelled[0] for s in spelled)
    assert spelled[0]["read"] == spelled[0]["module"] == spelled[0]["invalidate"]
    assert spelled[0]["read"].endswith(f":{n}")


@quick
@given(st.uuids())
def test_uuid_keys_are_one_key_however_spelled(value):
    for model in (Ticket, Document):
        spelled = [every_key(model, pk) for pk in uuid_spellings(value)]
        assert all(s == spelled[0] for s in spelled)
        assert spelled[0]["read"].endswith(value.hex)


@quick
@given(st.text(min_size=1, max_size=300), st.text(min_size=1, max_size=300))
def test_text_keys_are_safe_and_never_shared(first, second):
    first_key, second_key = keys.object_base(Code, first), keys.object_base(Code, second)
    assert (first_key == second_key) == (first == second)
    assert get_config(Code).object_base(first) == first_key
    assert not any(c.isspace() for c in first_key)
    assert len(first_key) <= 200


@quick
@given(st.integers(min_value=1, max_value=2**31))
def test_a_family_shares_primary_keys_and_a_proxy_shares_its_model_s_keys(n):
    from tests.shapes.models import LocalPlace

    assert get_config(LocalPlace).object_base(str(n)) == get_config(Place).object_base(n)
    written = plan_for(Place).entries([str(n)])
    assert get_config(Restaurant).object_base(n) in written
    assert get_config(Place).object_base(n) in written


@quick
@given(st.integers(min_value=1, max_value=2**31))
def test_keys_of_another_database_are_apart(n):
    config = get_config(Product)
    assert config.object_base(n, "other") != config.object_base(n)
    assert config.object_base(n, "other").endswith(f"/other:{n}")
    assert config.object_base(n, "default") == config.object_base(n)
    assert {config.object_base(n, "other"), config.object_base(n)} <= plan_for(Product).entries([n])


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
@pytest.mark.parametrize("spell", [str, lambda u: u.hex, lambda u: u, lambda u: u.urn])
def test_uuid_row_read_in_one_spelling_is_invalidated_in_another(spell):
    ticket = Ticket.objects.create(title="old")
    assert django_distcache.get_object(Ticket, spell(ticket.pk)).title == "old"
    Ticket.objects.filter(pk=str(ticket.pk)).update(title="by update")
    assert django_distcache.get_object(Ticket, ticket.pk).title == "by update"
    ticket.title = "by save"
    ticket.save()
    assert django_distcache.get_object(Ticket, spell(ticket.pk)).title == "by save"
    Ticket.objects.bulk_update([Ticket(pk=ticket.pk.hex, title="bulk")], ["title"])
    assert django_distcache.get_object(Ticket, str(ticket.pk)).title == "bulk"
    pk = ticket.pk
    ticket.delete()
    with pytest.raises(Ticket.DoesNotExist):
        django_distcache.get_object(Ticket, spell(uuid.UUID(str(pk))))


@pytestmark_db
def test_explicit_invalidation_in_another_spelling():
    ticket = Ticket.objects.create(title="old")
    django_distcache.get_object(Ticket, ticket.pk)
    Ticket.objects.filter(pk=ticket.pk)._raw_delete(using="default")  # no ORM signal, no plan
    django_distcache.invalidate_objects(Ticket, [ticket.pk.hex.upper()])
    with pytest.raises(Ticket.DoesNotExist):
        django_distcache.get_object(Ticket, ticket.pk)


@pytestmark_db
@pytest.mark.parametrize("code", ["a b", "ü/ß:x", "x" * 250, "line\nbreak", "1"])
def test_text_key_rows_are_invalidated(code):
    Code.objects.create(code=code, meaning="old")
    assert django_distcache.get_object(Code, code).meaning == "old"
    Code.objects.filter(code=code).update(meaning="new")
    assert django_distcache.get_object(Code, code).meaning == "new"


@pytestmark_db
def test_writes_follow_a_changed_key_prefix(settings):
    place = Place.objects.create(name="old")
    django_distcache.get_object(Place, place.pk)
    settings.DISTCACHE = {**settings.DISTCACHE, "KEY_PREFIX": "dcother"}
    assert django_distcache.get_object(Place, place.pk).name == "old"
    Place.objects.filter(name="old").update(name="new")  # rows unknown: generations only
    assert django_distcache.get_object(Place, place.pk).name == "new"
