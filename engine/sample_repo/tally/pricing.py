"""Money helpers: rounding, discounts, tiered prices and taxes."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

TAX_RATES = {"eu": 0.2, "us": 0.07, "uk": 0.2}


def round_money(amount: float) -> float:
    """Round to cents, halves away from zero."""
    cents = Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return float(cents)


def apply_discount(price: float, percent: float) -> float:
    """Price after a percentage discount (0-100)."""
    if percent < 0 or percent > 100:
        raise ValueError("percent must be between 0 and 100")
    return round_money(price * (1 - percent / 100))


def bulk_price(unit_price: float, quantity: int) -> float:
    """Total for `quantity` units with tiered discounts: 5% from 10 units, 10% from 100."""
    if quantity >= 100:
        percent = 10
    elif quantity >= 10:
        percent = 5
    else:
        percent = 0
    return apply_discount(unit_price * quantity, percent)


def tax_for(amount: float, region: str) -> float:
    """Tax owed on `amount` in `region`."""
    rate = TAX_RATES[region.lower()]
    return round_money(amount * rate)


def split_evenly(amount: float, parts: int) -> list[float]:
    """Split an amount into `parts` shares that add up to it exactly (cents go to the first shares)."""
    if parts <= 0:
        raise ValueError("parts must be positive")
    cents = int(round(amount * 100))
    base, extra = divmod(cents, parts)
    return [(base + (1 if i < extra else 0)) / 100 for i in range(parts)]
