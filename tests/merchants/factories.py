import itertools
from datetime import date, timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from merchants.models import (
    Brand,
    BrandAuthorisation,
    Category,
    DepositAccount,
    Entity,
    Listing,
    Membership,
    Store,
    StoreStatus,
)
from merchants.rules import CREDIT_CODE_CHARSET, credit_code_check_character

_codes = itertools.count(1)


def make_credit_code(n: int | None = None) -> str:
    n = next(_codes) if n is None else n
    digits = ""
    value = n
    for _ in range(8):
        digits = CREDIT_CODE_CHARSET[value % 31] + digits
        value //= 31
    first17 = "91" + "110105" + "9" + digits  # enterprise, Beijing, then a serial
    return first17 + credit_code_check_character(first17)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-123456")


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entity

    kind = Entity.Kind.ENTERPRISE
    name = factory.Sequence(lambda n: f"Entity {n} Co., Ltd.")
    credit_code = factory.LazyFunction(make_credit_code)
    licence_expires_on = factory.LazyFunction(lambda: date.today() + timedelta(days=365))


class BrandFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brand
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Brand{n}")


def category(code: str) -> Category:
    return Category.objects.get(code=code)


class StoreFactory(factory.django.DjangoModelFactory):
    """An active store, its deposit account and its main category."""

    class Meta:
        model = Store
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"T-{n:04d}")
    name = factory.Sequence(lambda n: f"Test store {n}")
    entity = factory.SubFactory(EntityFactory)
    store_type = Store.StoreType.ORDINARY
    main_category = factory.LazyFunction(lambda: category("general"))
    status = StoreStatus.ACTIVE
    opened_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=90))

    @factory.post_generation
    def setup(self, create, extracted, **kwargs):
        if create:
            self.categories.add(self.main_category)
            DepositAccount.objects.get_or_create(store=self)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
    role = Membership.Role.OWNER


class BrandAuthorisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BrandAuthorisation

    store = factory.SubFactory(StoreFactory)
    brand = factory.SubFactory(BrandFactory)
    valid_from = factory.LazyFunction(lambda: date.today() - timedelta(days=30))
    expires_on = factory.LazyFunction(lambda: date.today() + timedelta(days=365))


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    store = factory.SubFactory(StoreFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    title = factory.Sequence(lambda n: f"Cotton towel {n}")
    description = "Soft cotton towel."
    category = factory.LazyFunction(lambda: category("general"))
    price = Decimal("19.90")
    stock = 10
    status = "live"
