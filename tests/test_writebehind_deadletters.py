"""Dead letters: listed, replayed and discarded (API and command), and bounded."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

import django_distcache
from django_distcache.writebehind import (
    backlog,
    dead_letters,
    discard_dead_letters,
    flush_write_behind,
    replay_dead_letters,
)
from tests.factories import ProductFactory, TagFactory
from tests.testapp.models import Product, Tag

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("app_cache")]


@pytest.fixture
def no_retry(settings):
    """A row that fails is dead-lettered at once."""
    settings.DISTCACHE = {**settings.DISTCACHE, "WRITE_BEHIND_MAX_ATTEMPTS": 1}


def dead_letter_a_rename(tag: Tag, name: str) -> None:
    tag.name = name
    django_distcache.write_behind(tag, fields=["name"])
    assert flush_write_behind(Tag)["dead_lettered"] == 1


def test_replayed_letter_is_flushed_once_its_cause_is_fixed(no_retry, capsys):
    holder, tag = TagFactory(name="taken"), TagFactory(name="x")
    dead_letter_a_rename(tag, "taken")
    call_command("distcache_deadletters", "list", "testapp.Tag")
    listing = capsys.readouterr().out
    assert str(tag.pk) in listing
    assert "IntegrityError" in listing
    holder.name = "free"
    holder.save()
    call_command("distcache_deadletters", "replay", "testapp.Tag")
    assert "Replayed 1 dead letters" in capsys.readouterr().out
    assert dead_letters(Tag) == []
    assert replay_dead_letters(Tag) == 0  # nothing replayed twice
    flush_write_behind(Tag)
    assert Tag.objects.get(pk=tag.pk).name == "taken"
    assert backlog() == []


def test_replayed_increments_add_to_newer_writes(no_retry):
    product = ProductFactory(stock=0)
    Product.objects.filter(pk=product.pk).delete()
    # Made after the delete: dead-lettered (one made before it is superseded by it).
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=2)
    flush_write_behind(Product)
    assert len(dead_letters(Product)) == 1
    Product.objects.create(pk=product.pk, name="back", stock=10)
    django_distcache.write_behind_incr(Product, product.pk, "stock", by=1)
    assert replay_dead_letters(Product) == 1
    assert django_distcache.get_object(Product, product.pk).stock == 13
    flush_write_behind(Product)
    assert Product.objects.get(pk=product.pk).stock == 13


def test_discard_removes_the_first_letters(no_retry, capsys):
    TagFactory(name="taken")
    tags = TagFactory.create_batch(3)
    for tag in tags:
        dead_letter_a_rename(tag, "taken")
    call_command("distcache_deadletters", "discard", "testapp.Tag", "--limit", "2")
    assert "Discarded 2 dead letters" in capsys.readouterr().out
    assert [letter["pk"] for letter in dead_letters(Tag)] == [str(tags[2].pk)]
    assert discard_dead_letters(Tag) == 1
    assert dead_letters(Tag) == []


def test_only_the_newest_letters_are_kept(settings):
    settings.DISTCACHE = {
        **settings.DISTCACHE,
        "WRITE_BEHIND_MAX_ATTEMPTS": 1,
        "WRITE_BEHIND_DEAD_LETTERS_KEPT": 2,
    }
    TagFactory(name="taken")
    tags = TagFactory.create_batch(3)
    for tag in tags:
        dead_letter_a_rename(tag, "taken")
    assert [letter["pk"] for letter in dead_letters(Tag)] == [str(t.pk) for t in tags[1:]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "testapp.Category"], "write_behind=True"),
        (["list", "nope.Model"], "nope"),
        (["replay", "testapp.Tag", "--limit", "0"], "--limit"),
    ],
)
def test_bad_arguments_are_command_errors(args, message, one_redis):
    with pytest.raises(CommandError, match=message):
        call_command("distcache_deadletters", *args)


@override_settings(DISTCACHE={"KEY_PREFIX": "dctest", "WRITE_BEHIND_DEAD_LETTERS_KEPT": -1})
def test_negative_retention_is_a_check_error(one_redis):
    from django.core.checks import run_checks

    errors = [e for e in run_checks() if "WRITE_BEHIND_DEAD_LETTERS_KEPT" in e.msg]
    assert [e.id for e in errors] == ["distcache.E012"]


@pytest.fixture
def operator():
    from django.contrib.auth.models import Permission, User
    from django.test import Client

    user = User.objects.create_user("operator", password="pw", is_staff=True)
    for codename in ("view_dashboard", "change_dashboard"):
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_distcache", codename=codename)
        )
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _post_with_csrf(client, url: str, data: dict):
    import re

    from django.urls import reverse

    page = client.get(reverse("admin:django_distcache_dashboard_changelist")).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client.post(url, {**data, "csrfmiddlewaretoken": token}, follow=True)


def test_dashboard_replays_and_discards_dead_letters(no_retry, operator):
    from django.urls import reverse

    holder, tag, other = TagFactory(name="taken"), TagFactory(name="x"), TagFactory(name="y")
    dead_letter_a_rename(tag, "taken")
    page = operator.get(reverse("admin:django_distcache_dashboard_changelist")).content.decode()
    assert 'id="dead-letters-form"' in page
    assert '<option value="testapp.tag">' in page
    holder.name = "free"
    holder.save()
    url = reverse("admin:django_distcache_dashboard_dead_letters")
    response = _post_with_csrf(operator, url, {"model": "testapp.tag", "action": "replay"})
    [message] = response.context["messages"]
    assert str(message) == "Replayed the dead letters of testapp.tag: 1."
    flush_write_behind(Tag)
    assert Tag.objects.get(pk=tag.pk).name == "taken"
    dead_letter_a_rename(other, "taken")
    response = _post_with_csrf(operator, url, {"model": "testapp.tag", "action": "discard"})
    [message] = response.context["messages"]
    assert str(message) == "Discarded the dead letters of testapp.tag: 1."
    assert dead_letters(Tag) == []


def test_dashboard_dead_letter_actions_need_the_change_permission(one_redis):
    from django.contrib.auth.models import User
    from django.test import Client
    from django.urls import reverse

    viewer = Client()
    viewer.force_login(User.objects.create_user("v", password="pw", is_staff=True))
    url = reverse("admin:django_distcache_dashboard_dead_letters")
    response = viewer.post(url, {"model": "testapp.tag", "action": "discard"})
    assert response.status_code in (302, 403)
