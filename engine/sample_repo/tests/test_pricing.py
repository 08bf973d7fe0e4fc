from tally.pricing import apply_discount, bulk_price, split_evenly, tax_for


def test_discounts():
    assert apply_discount(100.0, 15) == 85.0
    assert bulk_price(2.0, 10) == 19.0


def test_tax_and_split():
    assert tax_for(10.0, "EU") == 2.0
    assert split_evenly(1.0, 3) == [0.34, 0.33, 0.33]
