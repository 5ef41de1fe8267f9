from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from merchants.models import Store
from orders.models import Carrier, Order
from orders.services import LineData, RecipientData, order_create

RECIPIENT = RecipientData(
    name="张三丰", phone="13812345678", region="浙江省 杭州市 西湖区", address="文三路 123 号 4 幢 501"
)


def carrier(code: str = "sf") -> Carrier:
    return Carrier.objects.get(code=code)


def make_order(
    store: Store,
    *,
    order_no: str | None = None,
    paid_at=None,
    promise: str = "48h",
    amount: str = "100.00",
    recipient: RecipientData = RECIPIENT,
    sku: str = "SKU-1",
    check_store: bool = False,
    **kwargs,
) -> Order:
    """A paid order through the service (deadline and fee computed), one line."""
    make_order.counter += 1
    return order_create(
        store=store,
        order_no=order_no or f"ORD{make_order.counter:08d}",
        paid_at=paid_at or timezone.now() - timedelta(hours=1),
        amount_paid=Decimal(amount),
        lines=[
            LineData(
                sku=sku,
                title="Cotton towel",
                quantity=1,
                unit_price=Decimal(amount),
                promised_dispatch=promise,
            )
        ],
        recipient=recipient,
        check_store=check_store,
        **kwargs,
    )


make_order.counter = 0
