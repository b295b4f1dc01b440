"""Registrations of the shaped models (autodiscovered)."""

import django_distcache
from tests.shapes.models import (
    Article,
    Author,
    Book,
    Code,
    Item,
    Pizzeria,
    Place,
    Post,
    Restaurant,
    Shelf,
    Tally,
    Ticket,
)

# Item does not depend on Shelf: the rows Django changes when a Shelf goes must be
# invalidated as rows, not through a dependency.
REGISTERED = (
    Place,
    Restaurant,
    Pizzeria,
    Ticket,
    Code,
    Author,
    Book,
    Article,
    Shelf,
    Post,
    Item,
    Tally,
)
for model in REGISTERED:
    django_distcache.register(model)
