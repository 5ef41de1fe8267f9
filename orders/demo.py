"""Demo orders for `make run`: a few thousand orders in every state on the demo stores.

Every order follows a story drawn from a seeded random generator (paid → shipped → scanned → delivered →
completed, or cancelled, refunded, shipped late, never shipped), cut at `now`: what has not happened yet has
not happened, so the states come out of the timelines and recent orders are still awaiting dispatch, due
within hours or overdue. Order numbers are deterministic, so seeding again adds nothing.

Orders paid in the last `THROUGH_SERVICES` on stores that may take orders go through the services
(`order_create`, `order_ship`, `tracking_event_record`, `order_cancel`, `order_refund`,
`order_confirm_receipt`) with their times given explicitly. The older history, and the orders of stores that
may not take orders any more (the services refuse to ship for them now, though they shipped when they could),
are written in bulk by `_BulkWriter`, which computes the same deadlines, fees, digests, events and settlement
entries with the same rules and FSM transitions (tests/orders/test_seed_demo.py checks that both paths write
the same rows). A few thousand orders take a few seconds on SQLite.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.utils import timezone
from django_fsm import can_proceed

from merchants.models import Listing, Membership, Sanction, SettlementEntry, Store
from merchants.selectors import rule_int
from orders.models import (
    Carrier,
    Fulfilment,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Shipment,
    TrackingEvent,
)
from orders.rules import order_dispatch_deadline, order_settlement
from orders.services import (
    SETTLEMENT_KINDS,
    LineData,
    OrderRules,
    RecipientData,
    normalise_tracking_no,
    order_build,
    order_cancel,
    order_confirm_receipt,
    order_create,
    order_refund,
    order_ship,
    tracking_event_record,
)

# store code: (number of orders, days of history); a store's history never starts before it opened.
ORDER_VOLUME = {
    "DEMO-001": (1500, 90),
    "DEMO-002": (600, 12),
    "DEMO-003": (200, 60),
    "DEMO-004": (150, 60),
}
# Orders placed on purpose at the edge of their deadline: (due within hours, overdue), per store.
SPOTLIGHT = {"DEMO-001": (8, 6), "DEMO-002": (5, 3)}
# Orders paid within this window go through the services one by one; older ones are written in bulk.
THROUGH_SERVICES = timedelta(days=2)
# Where each store ships from (the pickup and sorting scans).
ORIGIN = {"DEMO-001": "杭州", "DEMO-002": "上海", "DEMO-003": "广州", "DEMO-004": "深圳"}
PLATFORM_SHARE = {"DEMO-001": 0.03, "DEMO-002": 0.06}
ADVERTISING_SHARE = 0.1

FATES = [  # (fate, weight)
    ("normal", 84),
    ("late", 6),
    ("cancel", 5),
    ("refund_after_delivery", 3),
    ("refund_in_transit", 2),
]
CARRIERS = [
    ("sf", 25),
    ("zto", 20),
    ("yto", 15),
    ("yunda", 12),
    ("sto", 10),
    ("jd", 8),
    ("jt", 6),
    ("ems", 4),
]
PLATFORM_CARRIERS = [("jd", 3), ("sf", 2)]

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴莫孔汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强晓东海燕丹玉兰红梅鹏飞子涵欣怡浩然"
    "宇轩梓萱雨桐思远嘉怡一诺佳琪俊杰婷婷文博晨曦梦瑶雅琴"
)
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
    "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
    "188", "189", "191", "198", "199",
]  # fmt: skip
REGIONS = [  # province, city, districts
    ("浙江省", "杭州市", ["西湖区", "余杭区", "滨江区", "拱墅区", "上城区"]),
    ("浙江省", "宁波市", ["鄞州区", "海曙区", "江北区"]),
    ("浙江省", "温州市", ["鹿城区", "瓯海区"]),
    ("上海市", "上海市", ["浦东新区", "徐汇区", "闵行区", "静安区", "杨浦区"]),
    ("北京市", "北京市", ["朝阳区", "海淀区", "丰台区", "西城区", "通州区"]),
    ("天津市", "天津市", ["和平区", "南开区", "河西区"]),
    ("重庆市", "重庆市", ["渝中区", "江北区", "南岸区", "渝北区"]),
    ("广东省", "广州市", ["天河区", "越秀区", "白云区", "番禺区", "海珠区"]),
    ("广东省", "深圳市", ["南山区", "福田区", "宝安区", "龙岗区"]),
    ("广东省", "东莞市", ["南城街道", "东城街道"]),
    ("江苏省", "南京市", ["鼓楼区", "玄武区", "江宁区", "建邺区"]),
    ("江苏省", "苏州市", ["姑苏区", "吴中区", "相城区", "虎丘区"]),
    ("江苏省", "无锡市", ["梁溪区", "滨湖区"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "青羊区", "成华区", "双流区"]),
    ("湖北省", "武汉市", ["武昌区", "洪山区", "江汉区", "江岸区"]),
    ("湖南省", "长沙市", ["岳麓区", "雨花区", "芙蓉区", "开福区"]),
    ("山东省", "济南市", ["历下区", "槐荫区", "市中区"]),
    ("山东省", "青岛市", ["市南区", "崂山区", "黄岛区", "李沧区"]),
    ("河南省", "郑州市", ["金水区", "二七区", "中原区", "管城回族区"]),
    ("陕西省", "西安市", ["雁塔区", "碑林区", "未央区", "长安区"]),
    ("福建省", "厦门市", ["思明区", "湖里区", "集美区"]),
    ("福建省", "福州市", ["鼓楼区", "仓山区", "晋安区"]),
    ("安徽省", "合肥市", ["蜀山区", "包河区", "庐阳区"]),
    ("河北省", "石家庄市", ["长安区", "裕华区", "桥西区"]),
    ("辽宁省", "沈阳市", ["和平区", "浑南区", "皇姑区"]),
    ("辽宁省", "大连市", ["中山区", "沙河口区", "甘井子区"]),
    ("云南省", "昆明市", ["五华区", "盘龙区", "官渡区"]),
    ("广西壮族自治区", "南宁市", ["青秀区", "西乡塘区"]),
    ("黑龙江省", "哈尔滨市", ["南岗区", "道里区", "香坊区"]),
    ("江西省", "南昌市", ["东湖区", "红谷滩区", "青山湖区"]),
    ("贵州省", "贵阳市", ["南明区", "观山湖区"]),
    ("山西省", "太原市", ["小店区", "迎泽区"]),
]
ROADS = [
    "人民路", "解放路", "中山路", "建设路", "和平路", "文化路", "新华路", "朝阳路", "长江路", "黄河路",
    "学府路", "科技路", "体育路", "花园路", "东风路", "南京路", "延安路", "青年路", "滨江大道", "金沙大道",
]  # fmt: skip
COMMUNITIES = [
    "阳光花园", "翠苑小区", "锦绣家园", "幸福里", "金色家园", "滨江花园", "世纪新城", "万科城",
    "碧桂园", "绿城桂花园", "保利花园", "龙湖春江郦城", "华润城", "中海国际社区",
]  # fmt: skip
BUYER_MESSAGES = [
    "请尽快发货，谢谢",
    "麻烦用顺丰",
    "送人的，不要放价格单",
    "周末才有人在家",
    "放快递柜就行",
    "颜色要和图片一样",
    "要开发票，抬头：个人",
    "包装结实一点，谢谢",
]
BUYER_CANCEL_REASONS = ["买家申请取消：拍错了", "买家申请取消：不想要了", "买家申请取消：地址填错了"]
SELLER_CANCEL_REASONS = ["缺货，与买家协商取消", "颜色断码，买家同意取消"]
REFUND_REASONS = [
    "买家申请退货退款：尺码不合适",
    "买家申请退货退款：与描述不符",
    "商品破损，仅退款",
    "七天无理由退货",
]
IN_TRANSIT_REFUND_REASONS = ["买家拒收，退货退款", "快递滞留，买家申请仅退款"]


# --- Plans: what happens to each order, and when --------------------------------------------------


@dataclass(frozen=True)
class Step:
    kind: str  # ship, scan, confirm, cancel, refund
    at: datetime
    by_seller: bool = False  # a step the store takes: it cannot happen while the store may not take orders
    actor: object = None
    carrier: str = ""
    tracking_no: str = ""
    scan: str = ""  # pickup, sorting, in_transit, delivered
    location: str = ""
    description: str = ""
    reason: str = ""


@dataclass
class Plan:
    order_no: str
    paid_at: datetime
    lines: list[LineData]
    recipient: RecipientData
    amount_paid: Decimal
    is_advertising: bool = False
    fulfilment: str = Fulfilment.SELLER
    buyer_message: str = ""
    steps: list[Step] = field(default_factory=list)


def _hours(rng: random.Random, low: float, high: float) -> timedelta:
    return timedelta(hours=rng.uniform(low, high))


def _pick(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    values, weights = zip(*weighted, strict=True)
    return rng.choices(values, weights)[0]


def random_recipient(rng: random.Random) -> RecipientData:
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    province, city, districts = rng.choice(REGIONS)
    district = rng.choice(districts)
    road = f"{rng.choice(ROADS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.8:
        address = (
            f"{road}{rng.choice(COMMUNITIES)}{rng.randint(1, 30)}幢"
            f"{rng.randint(1, 4)}单元{rng.randint(1, 33)}{rng.randint(1, 4):02d}室"
        )
    else:
        address = f"{road}{rng.choice(['科技园', '创业大厦', '国际中心', '写字楼'])}{rng.randint(2, 28)}楼"
    return RecipientData(name=name, phone=phone, region=f"{province} {city} {district}", address=address)


def _tracking_no(carrier: str, store_no: int, index: int) -> str:
    """Unique per store and order (the store and order numbers are in it), in the carrier's format."""
    salt = (index * 7919 + store_no * 104729) % 100000
    if carrier == "zto":
        return f"75{store_no:02d}{index:06d}{salt % 10000:04d}"
    if carrier == "jd":
        return f"JDVA{store_no:02d}{index:06d}{salt % 1000:03d}"
    if carrier == "ems":
        return f"EA{store_no % 10}{index:05d}{salt % 1000:03d}CN"
    prefix = {"sf": "SF", "yto": "YT", "sto": "77", "yunda": "43", "jt": "JT"}[carrier]
    return f"{prefix}{store_no:02d}{index:06d}{salt:05d}"


def _order_no(store_no: int, index: int) -> str:
    """19 digits like the platform's, unique per store."""
    return f"69{store_no:02d}{index:06d}{(index * 48271 + store_no * 16807) % 10**9:09d}"


@dataclass(frozen=True)
class _StoreContext:
    store: Store
    store_no: int
    listings: list[Listing]
    owner: object
    platform_actor: object
    seller_until: datetime  # the store's own steps stop here (an order restriction or suspension began)
    cutoff_hour: int


def _lines(rng: random.Random, listings: list[Listing]) -> list[LineData]:
    count = min(len(listings), _pick(rng, [(1, 70), (2, 22), (3, 8)]))
    chosen = rng.sample(listings, count)
    return [
        LineData(
            listing=listing,
            sku=listing.sku,
            title=listing.title,
            quantity=_pick(rng, [(1, 75), (2, 18), (3, 7)]),
            unit_price=listing.price,
            promised_dispatch=listing.promised_dispatch,
        )
        for listing in chosen
    ]


def _amount_paid(rng: random.Random, lines: list[LineData]) -> Decimal:
    subtotal = sum((line.unit_price * line.quantity for line in lines), Decimal("0"))
    coupon = Decimal(rng.choice((0, 0, 0, 5, 10, 20)))
    return subtotal - coupon if subtotal > coupon * 3 else subtotal


def _story(
    rng: random.Random, ctx: _StoreContext, plan: Plan, deadline: datetime, index: int, fate: str
) -> list[Step]:
    """Every step the order would go through, from payment to its end (later cut at `now`)."""
    seller = ctx.owner
    platform = plan.fulfilment == Fulfilment.PLATFORM
    span = deadline - plan.paid_at
    if fate == "cancel":
        at = plan.paid_at + min(span * rng.uniform(0.05, 0.7), timedelta(hours=20))
        if platform or rng.random() < 0.6:
            return [Step("cancel", at, reason=rng.choice(BUYER_CANCEL_REASONS))]
        return [Step("cancel", at, by_seller=True, actor=seller, reason=rng.choice(SELLER_CANCEL_REASONS))]
    if fate == "late":
        ship_at = deadline + _hours(rng, 1, 30)
    else:
        ship_at = plan.paid_at + max(span * rng.uniform(0.05, 0.85), timedelta(minutes=20))
    carrier = _pick(rng, PLATFORM_CARRIERS if platform else CARRIERS)
    origin = "京东亚洲一号仓" if platform else ORIGIN[ctx.store.code]
    _province, city, district = plan.recipient.region.split(" ")
    pickup = ship_at + _hours(rng, 0.5, 4)
    sorting = pickup + _hours(rng, 3, 8)
    in_transit = sorting + _hours(rng, 4, 12)
    delivered = in_transit + _hours(rng, 12, 60)
    steps = [
        Step(
            "ship",
            ship_at,
            by_seller=not platform,
            actor=ctx.platform_actor if platform else seller,
            carrier=carrier,
            tracking_no=_tracking_no(carrier, ctx.store_no, index),
        ),
        Step("scan", pickup, scan="pickup", location=origin, description=f"【{origin}】快递员已揽收"),
        Step(
            "scan", sorting, scan="sorting", location=f"{origin}转运中心", description="快件已到达，正在分拣"
        ),
        Step(
            "scan",
            in_transit,
            scan="in_transit",
            location=f"{origin}转运中心",
            description=f"快件已发出，下一站【{city}转运中心】",
        ),
    ]
    if fate == "refund_in_transit":
        at = in_transit + _hours(rng, 2, 20)
        return [
            *steps,
            Step("refund", at, by_seller=True, actor=seller, reason=rng.choice(IN_TRANSIT_REFUND_REASONS)),
        ]
    signed = rng.choice(["本人签收", "快递柜代收", "门卫代收", "家人代收"])
    steps.append(
        Step(
            "scan",
            delivered,
            scan="delivered",
            location=f"{city}{district}",
            description=f"已签收（{signed}）",
        )
    )
    if fate == "refund_after_delivery":
        at = delivered + _hours(rng, 24, 120)
        return [*steps, Step("refund", at, by_seller=True, actor=seller, reason=rng.choice(REFUND_REASONS))]
    return [*steps, Step("confirm", delivered + _hours(rng, 12, 168))]


def _happened(steps: list[Step], *, now: datetime, seller_until: datetime) -> list[Step]:
    """The steps that have happened by `now`: a step that has not stops its story there."""
    done = []
    for step in steps:
        if step.at > (seller_until if step.by_seller else now):
            break
        done.append(step)
    return done


def _plans(ctx: _StoreContext, *, now: datetime) -> list[Plan]:
    code = ctx.store.code
    count, days = ORDER_VOLUME[code]
    rng = random.Random(f"demo-orders:{code}")
    zone = ZoneInfo(ctx.store.time_zone)
    end = ctx.seller_until - timedelta(hours=1) if ctx.seller_until < now else now
    start = now - timedelta(days=days)
    if ctx.store.opened_on:
        start = max(start, datetime.combine(ctx.store.opened_on, time(12), tzinfo=zone))
    hourly = [listing for listing in ctx.listings if listing.promised_dispatch.endswith("h")]
    due_soon, overdue = SPOTLIGHT.get(code, (0, 0)) if hourly and end == now else (0, 0)
    plans = []
    for index in range(1, count + 1):
        recipient = random_recipient(rng)
        fulfilment = Fulfilment.PLATFORM if rng.random() < PLATFORM_SHARE.get(code, 0) else Fulfilment.SELLER
        is_advertising = rng.random() < ADVERTISING_SHARE
        message = rng.choice(BUYER_MESSAGES) if rng.random() < 0.2 else ""
        fate = _pick(rng, FATES)
        spotlight = index <= due_soon + overdue
        if spotlight:
            # One line with an hours promise, paid so that the deadline falls just ahead or just behind.
            listing = rng.choice(hourly)
            lines = [
                LineData(
                    listing=listing,
                    sku=listing.sku,
                    title=listing.title,
                    quantity=1,
                    unit_price=listing.price,
                    promised_dispatch=listing.promised_dispatch,
                )
            ]
            promise = timedelta(hours=int(listing.promised_dispatch[:-1]))
            left = _hours(rng, 0.5, 5.5) if index <= due_soon else -_hours(rng, 1, 30)
            paid_at = now - promise + left
            fulfilment = Fulfilment.SELLER
        else:
            lines = _lines(rng, ctx.listings)
            while True:
                paid_at = end - (end - start) * (rng.random() ** 1.3)
                if not 2 <= paid_at.astimezone(zone).hour < 8 or rng.random() < 0.25:
                    break
        plan = Plan(
            order_no=_order_no(ctx.store_no, index),
            paid_at=paid_at,
            lines=lines,
            recipient=recipient,
            amount_paid=_amount_paid(rng, lines),
            is_advertising=is_advertising,
            fulfilment=fulfilment,
            buyer_message=message,
        )
        if not spotlight:
            deadline = order_dispatch_deadline(
                paid_at=paid_at,
                promises=[line.promised_dispatch for line in lines],
                zone=zone,
                same_day_cutoff_hour=ctx.cutoff_hour,
            )
            steps = _story(rng, ctx, plan, deadline, index, fate)
            plan.steps = _happened(steps, now=now, seller_until=ctx.seller_until)
        plans.append(plan)
    return plans


# --- Writing through the services ------------------------------------------------------------------


def _via_services(ctx: _StoreContext, plan: Plan, carriers: dict[str, Carrier]) -> None:
    order = order_create(
        store=ctx.store,
        order_no=plan.order_no,
        paid_at=plan.paid_at,
        amount_paid=plan.amount_paid,
        lines=plan.lines,
        recipient=plan.recipient,
        is_advertising=plan.is_advertising,
        fulfilment=plan.fulfilment,
        buyer_message=plan.buyer_message,
        check_store=False,
    )
    shipment = None
    for step in plan.steps:
        if step.kind == "ship":
            order = order_ship(
                order=order,
                carrier=carriers[step.carrier],
                tracking_no=step.tracking_no,
                actor=step.actor,
                now=step.at,
            )
            shipment = Shipment.objects.only("pk").get(order=order)
        elif step.kind == "scan":
            tracking_event_record(
                shipment=shipment,
                kind=step.scan,
                occurred_at=step.at,
                location=step.location,
                description=step.description,
            )
        elif step.kind == "confirm":
            order = order_confirm_receipt(order=order, now=step.at)
        elif step.kind == "cancel":
            order = order_cancel(order=order, actor=step.actor, reason=step.reason, now=step.at)
        elif step.kind == "refund":
            order = order_refund(order=order, actor=step.actor, reason=step.reason, now=step.at)


# --- Writing in bulk, with the services' arithmetic -------------------------------------------------


class _BulkWriter:
    """Collects orders with their lines, events, shipments, scans and settlement entries; writes them in a
    few statements. Each step mirrors its service: the same deadline and fee functions, the same FSM
    transitions on the model, the same event rows and data."""

    def __init__(self):
        self.rules = OrderRules.current()
        self.release_days = rule_int("settlement_release_days")
        self.orders: list[Order] = []
        self.lines: list[OrderLine] = []
        self.events: list[OrderEvent] = []
        self.shipments: list[Shipment] = []
        self.scans: list[tuple[Shipment, TrackingEvent]] = []
        self.settlements: list[tuple[Order, str, Decimal, datetime]] = []  # order, cause suffix, amount, when

    def _event(self, order, kind, *, actor=None, before="", reason="", data=None, at):
        self.events.append(
            OrderEvent(
                order=order,
                kind=kind,
                actor=actor,
                from_status=before,
                to_status=order.status,
                reason=reason or "",
                data=data or {},
                created_at=at,
            )
        )

    def add(self, store: Store, plan: Plan, carriers: dict[str, Carrier]) -> None:
        # order_create: the same builder, saved later in bulk
        order, order_lines = order_build(
            store=store,
            order_no=plan.order_no,
            paid_at=plan.paid_at,
            amount_paid=plan.amount_paid,
            lines=plan.lines,
            recipient=plan.recipient,
            is_advertising=plan.is_advertising,
            fulfilment=plan.fulfilment,
            buyer_message=plan.buyer_message,
            rules=self.rules,
        )
        self.orders.append(order)
        self.lines.extend(order_lines)
        self._event(
            order,
            "paid",
            data={"deadline": order.dispatch_deadline.isoformat(), "fee": str(order.service_fee)},
            at=plan.paid_at,
        )

        shipment = None
        for step in plan.steps:
            if step.kind == "ship":  # order_ship
                tracking_no = normalise_tracking_no(step.tracking_no)
                shipment = Shipment(
                    order=order,
                    carrier=carriers[step.carrier],
                    tracking_no=tracking_no,
                    address_digest=order.address_digest,
                    created_at=step.at,
                    created_by=step.actor,
                )
                self.shipments.append(shipment)
                order.ship(at=step.at)
                self._event(
                    order,
                    "shipped",
                    actor=step.actor,
                    before=OrderStatus.PAID,
                    data={"carrier": step.carrier, "tracking_no": tracking_no},
                    at=step.at,
                )
            elif step.kind == "scan":  # tracking_event_record
                scan = TrackingEvent(
                    kind=step.scan,
                    occurred_at=step.at,
                    location=step.location[:100],
                    description=step.description[:300],
                    source="webhook",
                )
                self.scans.append((shipment, scan))
                if step.scan == TrackingEvent.Kind.PICKUP and (
                    shipment.first_pickup_at is None or step.at < shipment.first_pickup_at
                ):
                    shipment.first_pickup_at = step.at
                    order.dispatched_at = step.at
                    self._event(
                        order, "picked_up", before=order.status, data={"at": step.at.isoformat()}, at=step.at
                    )
                elif step.scan == TrackingEvent.Kind.DELIVERED and can_proceed(order.deliver):
                    order.deliver(at=step.at)
                    self._event(order, "delivered", before=OrderStatus.SHIPPED, at=step.at)
            elif step.kind == "confirm":  # order_confirm_receipt
                order.complete(at=step.at)
                available_at, entries = order_settlement(
                    amount_paid=order.amount_paid,
                    service_fee=order.service_fee,
                    completed_at=step.at,
                    release_days=self.release_days,
                )
                self.settlements.extend((order, suffix, amount, available_at) for suffix, amount in entries)
                self._event(
                    order,
                    "completed",
                    before=OrderStatus.DELIVERED,
                    data={"settlement_available_at": available_at.isoformat()},
                    at=step.at,
                )
            elif step.kind == "cancel":  # order_cancel
                order.cancel(at=step.at)
                self._event(
                    order,
                    "cancelled",
                    actor=step.actor,
                    before=OrderStatus.PAID,
                    reason=step.reason,
                    data={"refunded": str(order.amount_paid)},
                    at=step.at,
                )
            elif step.kind == "refund":  # order_refund
                before = order.status
                order.refund(at=step.at)
                self._event(
                    order,
                    "refunded",
                    actor=step.actor,
                    before=before,
                    reason=step.reason,
                    data={"refunded": str(order.amount_paid)},
                    at=step.at,
                )

    def write(self) -> None:
        Order.objects.bulk_create(self.orders, batch_size=500)
        OrderLine.objects.bulk_create(self.lines, batch_size=1000)
        OrderEvent.objects.bulk_create(self.events, batch_size=1000)
        Shipment.objects.bulk_create(self.shipments, batch_size=1000)
        for shipment, scan in self.scans:
            scan.shipment = shipment
        TrackingEvent.objects.bulk_create([scan for _, scan in self.scans], batch_size=1000)
        SettlementEntry.objects.bulk_create(
            [
                SettlementEntry(
                    store_id=order.store_id,
                    kind=SETTLEMENT_KINDS[suffix],
                    amount=amount,
                    available_at=available_at,
                    cause_key=f"order:{order.pk}:{suffix}",
                    reason=order.order_no,
                )
                for order, suffix, amount, available_at in self.settlements
            ],
            batch_size=1000,
        )


# --- Entry point --------------------------------------------------------------------------------------


def _seller_until(store: Store, now: datetime) -> datetime:
    """When the store stopped being allowed to take (and ship) orders; `now` if it still may."""
    if store.can_take_orders:
        return now
    starts = Sanction.objects.live(now).filter(store=store, kind=Sanction.Kind.ORDER_RESTRICTION)
    return min(starts.values_list("starts_at", flat=True), default=now)


def seed_orders(
    *, stores: dict[str, Store], now: datetime | None = None, platform_actor=None
) -> dict[str, int]:
    """Add the demo orders to the demo stores that have opened; returns how many were added per store.

    `platform_actor` is the staff user shown shipping platform-fulfilled orders (default: the first
    superuser). Call it inside a transaction.
    """
    now = now or timezone.now()
    if platform_actor is None:
        platform_actor = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    cutoff_hour = rule_int("same_day_cutoff_hour")
    carriers = {c.code: c for c in Carrier.objects.all()}
    codes = [code for code in ORDER_VOLUME if code in stores and stores[code].opened_on]
    owners = {
        m.store_id: m.user
        for m in Membership.objects.filter(store__code__in=codes, role="owner")
        .select_related("user")
        .order_by("pk")
    }
    existing = set(Order.objects.filter(store__code__in=codes).values_list("store__code", "order_no"))
    bulk = _BulkWriter()
    added = {}
    for code in codes:
        store = stores[code]
        store_no = list(ORDER_VOLUME).index(code) + 1  # part of the order and tracking numbers: fixed
        listings = list(
            Listing.objects.filter(store=store, status="live").select_related("category").order_by("sku")
        )
        if not listings:
            continue
        ctx = _StoreContext(
            store=store,
            store_no=store_no,
            listings=listings,
            owner=owners.get(store.pk),
            platform_actor=platform_actor,
            seller_until=_seller_until(store, now),
            cutoff_hour=cutoff_hour,
        )
        can_ship_now = store.can_take_orders
        plans = [p for p in _plans(ctx, now=now) if (code, p.order_no) not in existing]
        for plan in sorted(plans, key=lambda p: p.paid_at):
            if can_ship_now and plan.paid_at >= now - THROUGH_SERVICES:
                _via_services(ctx, plan, carriers)
            else:
                bulk.add(store, plan, carriers)
        added[code] = len(plans)
    bulk.write()
    return added


def order_counts(stores: list[str]) -> dict[str, dict[str, int]]:
    """Orders per status per store, for the command's summary."""
    counts: dict[str, dict[str, int]] = {}
    rows = (
        Order.objects.filter(store__code__in=stores)
        .values_list("store__code", "status")
        .annotate(n=Count("id"))
    )
    for code, status, n in rows.order_by("store__code", "status"):
        counts.setdefault(code, {})[status] = n
    return counts


# --- Compliance: what the engine and the reviewers leave on the demo stores ----------------------------

# Reviewer-recorded violations: store, type, which delivered order (newest first) is the cause, days ago, why.
# With the demo complaints, calls and spot checks, DEMO-001 ends at 18 general points (past the ladder's
# warning and rules exam at 12, short of the listing block at 24) and DEMO-002 at 22.
DEMO_VIOLATIONS = [
    (
        "DEMO-001",
        "not_as_described",
        3,
        21,
        "Buyer received grey towels where blue were ordered (photos checked)",
    ),
    ("DEMO-001", "negative_service", 12, 9, "Sarcastic reply to a buyer asking where the parcel was"),
    ("DEMO-002", "not_as_described", 2, 5, "Serum bottle 15 ml where the listing says 30 ml"),
    ("DEMO-003", "not_as_described", 1, 8, "Hand towel delivered in place of the bath towel ordered"),
]
# Stores that pay their compensation from a deposit above the requirement (DEMO-002 and DEMO-003 stay short).
DEMO_TOP_UPS = [
    ("DEMO-001", Decimal("3000.00"), "BANK-DEMO-001-0003"),
    ("DEMO-004", Decimal("500.00"), "BANK-DEMO-004-0002"),
]


def seed_compliance(*, stores: dict[str, Store], now: datetime, reviewer=None) -> dict[str, str]:
    """Run the order checks as of `now` over the demo orders (strikes, out of stock, tracking) and record the
    reviewers' violations above; idempotent (one violation per cause). Returns each check's summary."""
    from merchants.models import DepositEntry, Violation
    from merchants.services import deposit_record, settlement_release_check, violation_record
    from orders.checks import late_dispatch_check, late_rate_check, tracking_check

    for code, amount, reference in DEMO_TOP_UPS:
        if code not in stores:
            continue
        deposit_record(
            store=stores[code],
            kind=DepositEntry.Kind.TOP_UP,
            amount=amount,
            reason="Deposit top-up by bank transfer",
            reference=reference,
            cause_key=f"top-up:{reference}",
            now=now - timedelta(days=30),
        )
    summaries = {
        "late_dispatch": str(late_dispatch_check(now=now)),
        "tracking": str(tracking_check(now=now)),
        "late_rate": str(late_rate_check(now=now)),
        # settlement of receipts confirmed more than the release period ago becomes withdrawable
        "settlement_release": str(settlement_release_check(now=now)),
    }
    for code, type_code, nth, days_ago, reason in DEMO_VIOLATIONS:
        if code not in stores:
            continue
        order = (
            Order.objects.filter(
                store=stores[code], status__in=[OrderStatus.DELIVERED, OrderStatus.COMPLETED]
            )
            .order_by("-paid_at", "-pk")[nth : nth + 1]
            .first()
        )
        if (
            order is None
            or Violation.objects.filter(cause_kind="order", cause_id=f"demo-{order.pk}").exists()
        ):
            continue
        violation_record(
            store=stores[code],
            type_code=type_code,
            cause_kind="order",
            cause_id=f"demo-{order.pk}",
            cause_label=order.order_no,
            occurred_at=now - timedelta(days=days_ago),
            reason=reason,
            actor=reviewer,
        )
    return summaries


# --- One finished order import on DEMO-001 (the import page's history and result) -----------------------

DEMO_IMPORT_STORE = "DEMO-001"
DEMO_IMPORT_FILE = "orders-reupload-last-week.csv"


def _demo_import_file(store: Store) -> bytes:
    """Our template with five orders the store already has (a re-upload: skipped) and one whose SKU the store
    does not sell (refused, so the job has an error file)."""
    import csv
    import io

    from orders.imports import order_import_template

    header = order_import_template().splitlines()[0].split(",")
    orders = (
        Order.objects.filter(store=store, status=OrderStatus.PAID)
        .prefetch_related("lines")
        .order_by("-paid_at")[:5]
    )
    rows = []
    for order in orders:
        region = (order.recipient_region.split() + ["", "", ""])[:3]
        for line in order.lines.all():
            rows.append(
                {
                    "order_no": order.order_no,
                    "status": "paid",
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price": line.unit_price,
                    "amount_paid": order.amount_paid,
                    "paid_at": timezone.localtime(order.paid_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "recipient_name": order.recipient_name,
                    "recipient_phone": order.recipient_phone,
                    "province": region[0],
                    "city": region[1],
                    "district": region[2],
                    "address": order.recipient_address,
                    "fulfilment": order.fulfilment,
                }
            )
    if rows:
        rows.append({**rows[-1], "order_no": "IMP-DEMO-0001", "sku": "DISCONTINUED-01", "title": "Old towel"})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\r\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def seed_import_job(*, stores: dict[str, Store], actor=None):
    """DEMO-001's finished import (through the import job, as the page makes them); once. Returns the job."""
    from django.core.files.base import ContentFile

    from orders.jobs import ImportOptions, import_job_create, import_job_run
    from orders.models import ImportJob

    store = stores.get(DEMO_IMPORT_STORE)
    if store is None:
        return None
    existing = ImportJob.objects.filter(store=store, original_filename=DEMO_IMPORT_FILE).first()
    if existing is not None:
        return existing
    data = _demo_import_file(store)
    if not data.count(b"\n") > 1:
        return None
    job = import_job_create(
        store=store,
        actor=actor,
        upload=ContentFile(data, name=DEMO_IMPORT_FILE),
        options=ImportOptions(skip_invalid=True),
    )
    return import_job_run(job_id=job.pk) or ImportJob.objects.get(pk=job.pk)
