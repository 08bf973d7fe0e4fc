import pytest

from tally.inventory import Inventory


def test_add_and_remove():
    inv = Inventory()
    inv.add_item("A1", "bolt", 10, 0.25)
    assert inv.remove_item("A1", 4) == 6
    with pytest.raises(ValueError):
        inv.remove_item("A1", 7)


def test_total_value_and_low_stock():
    inv = Inventory()
    inv.add_item("A1", "bolt", 10, 0.25)
    inv.add_item("B2", "nut", 2, 0.10)
    assert inv.total_value() == 2.70
    assert inv.low_stock() == ["B2"]
