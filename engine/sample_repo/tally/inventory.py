"""Items in stock, their quantities and unit prices."""

from __future__ import annotations

from dataclasses import dataclass

from tally.pricing import round_money


@dataclass
class Item:
    sku: str
    name: str
    quantity: int
    unit_price: float


class Inventory:
    def __init__(self) -> None:
        self._items: dict[str, Item] = {}

    def add_item(self, sku: str, name: str, quantity: int, unit_price: float) -> Item:
        """Add stock; adding an existing SKU increases its quantity."""
        if quantity < 0:
            raise ValueError("quantity must be >= 0")
        item = self._items.get(sku)
        if item is None:
            item = Item(sku, name, 0, unit_price)
            self._items[sku] = item
        item.quantity += quantity
        return item

    def remove_item(self, sku: str, quantity: int) -> int:
        """Take `quantity` out of stock and return what is left."""
        item = self._items[sku]
        if quantity > item.quantity:
            raise ValueError(f"only {item.quantity} of {sku} in stock")
        item.quantity -= quantity
        return item.quantity

    def quantity(self, sku: str) -> int:
        item = self._items.get(sku)
        return item.quantity if item else 0

    def total_value(self) -> float:
        """Value of everything in stock."""
        total = 0.0
        for item in self._items.values():
            total += item.quantity * item.unit_price
        return round_money(total)

    def low_stock(self, threshold: int = 5) -> list[str]:
        """SKUs whose quantity is below `threshold`, sorted."""
        low = [sku for sku, item in self._items.items() if item.quantity < threshold]
        return sorted(low)

    def restock(self, plan: dict[str, int]) -> dict[str, int]:
        """Apply a {sku: quantity} plan; returns the new quantities."""
        result = {}
        for sku, qty in plan.items():
            item = self._items[sku]
            item.quantity += qty
            result[sku] = item.quantity
        return result
